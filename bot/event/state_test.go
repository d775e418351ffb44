package event

import (
	"encoding/json"
	"testing"
)

func TestState_a_fork_keeps_its_changes_until_joined(t *testing.T) {
	s := NewState(map[string]json.RawMessage{"a": json.RawMessage(`1`), "b": json.RawMessage(`2`)})
	f := s.Fork()
	if err := f.Set("a", 10); err != nil {
		t.Fatal(err)
	}
	f.Delete("b")
	if err := f.Set("c", 3); err != nil {
		t.Fatal(err)
	}
	if s.Changed() || string(s.Raw("a")) != "1" || s.Raw("b") == nil || s.Raw("c") != nil {
		t.Fatalf("the fork's changes reached the state before Join: %v", s.Map())
	}
	s.Join(f)
	set, deleted := s.Changes()
	if string(set["a"]) != "10" || string(set["c"]) != "3" || len(set) != 2 || len(deleted) != 1 || deleted[0] != "b" {
		t.Fatalf("after Join: set %s, deleted %v", set, deleted)
	}
	if s.Raw("b") != nil || string(s.Raw("a")) != "10" {
		t.Fatalf("after Join: %v", s.Map())
	}
}
