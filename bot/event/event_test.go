package event

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseKind_accepts_every_kind_and_names_known_ones_on_error(t *testing.T) {
	for _, k := range Kinds() {
		got, err := ParseKind(string(k))
		if err != nil || got != k {
			t.Fatalf("ParseKind(%q) = %q, %v", k, got, err)
		}
	}
	_, err := ParseKind("message.recieved")
	if err == nil {
		t.Fatal("ParseKind accepted a misspelt kind")
	}
	if !strings.Contains(err.Error(), `"message.recieved"`) || !strings.Contains(err.Error(), "message.received") {
		t.Fatalf("error does not name the bad kind and the known ones: %v", err)
	}
}

func TestKinds_are_sorted_and_unique(t *testing.T) {
	ks := Kinds()
	if len(ks) != len(kinds) {
		t.Fatalf("Kinds() has %d kinds, want %d", len(ks), len(kinds))
	}
	for i := 1; i < len(ks); i++ {
		if ks[i-1] >= ks[i] {
			t.Fatalf("Kinds() not sorted and unique at %d: %q, %q", i, ks[i-1], ks[i])
		}
	}
}

func TestState_tracks_changes_for_the_store(t *testing.T) {
	s := NewState(map[string]json.RawMessage{"step": json.RawMessage(`2`), "old": json.RawMessage(`"x"`)})
	if s.Changed() {
		t.Fatal("a fresh state reports changes")
	}
	var step int
	if ok, err := s.Get("step", &step); !ok || err != nil || step != 2 {
		t.Fatalf("Get(step) = %v, %v, %d", ok, err, step)
	}
	if err := s.Set("step", 3); err != nil {
		t.Fatal(err)
	}
	s.Delete("old")
	if err := s.Set("greeted", true); err != nil {
		t.Fatal(err)
	}
	s.Delete("greeted")
	set, deleted := s.Changes()
	if len(set) != 1 || string(set["step"]) != "3" {
		t.Fatalf("set = %v, want only step=3", set)
	}
	if strings.Join(deleted, ",") != "greeted,old" {
		t.Fatalf("deleted = %v, want greeted,old", deleted)
	}
	if got := s.Map(); len(got) != 1 || got["step"] != float64(3) {
		t.Fatalf("Map() = %v", got)
	}
}

func TestState_Get_reports_a_field_that_does_not_decode(t *testing.T) {
	s := NewState(map[string]json.RawMessage{"n": json.RawMessage(`"text"`)})
	var n int
	ok, err := s.Get("n", &n)
	if !ok || err == nil || !strings.Contains(err.Error(), `"n"`) {
		t.Fatalf("Get = %v, %v; want the field named in an error", ok, err)
	}
	if err := s.Set("", 1); err == nil {
		t.Fatal("Set accepted an empty field name")
	}
}

func TestPresence_Available(t *testing.T) {
	for avail, want := range map[string]bool{"Online": true, "IdleOnline": true, "Busy": false, "Away": false, "Offline": false, "": false} {
		if got := (Presence{Availability: avail}).Available(); got != want {
			t.Errorf("Available(%q) = %v, want %v", avail, got, want)
		}
	}
}
