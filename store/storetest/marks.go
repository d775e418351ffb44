package storetest

import (
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/store"
)

func testMarks(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	mark := func(key string, ttl time.Duration, want bool) {
		t.Helper()
		got, err := s.Mark(ctx, acct, key, ttl)
		must(t, err, "mark "+key)
		if got != want {
			t.Fatalf("mark %s = %v, want %v", key, got, want)
		}
	}
	mark("cooldown", 150*time.Millisecond, true)
	mark("cooldown", 150*time.Millisecond, false)
	mark("sent:op1", time.Hour, true)
	must(t, s.Unmark(ctx, acct, "sent:op1"), "unmark")
	must(t, s.Unmark(ctx, acct, "never-set"), "unmark of an unset mark")
	mark("sent:op1", time.Hour, true)
	time.Sleep(300 * time.Millisecond)
	mark("cooldown", 150*time.Millisecond, true)
	mark("sent:op1", time.Hour, false)
}

func testValues(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	get := func(key, want string) {
		t.Helper()
		got, err := s.GetValue(ctx, acct, key)
		if want == "" {
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("get %s = %q, %v; want ErrNotFound", key, got, err)
			}
			return
		}
		must(t, err, "get "+key)
		if string(got) != want {
			t.Fatalf("get %s = %q, want %q", key, got, want)
		}
	}
	get("missing", "")
	must(t, s.SetValue(ctx, acct, 0, "kv:a", []byte(`{"n":1}`), 0), "set a")
	must(t, s.SetValue(ctx, acct, 0, "kv:short", []byte("x"), 150*time.Millisecond), "set short")
	get("kv:a", `{"n":1}`)
	get("kv:short", "x")
	must(t, s.SetValue(ctx, acct, 0, "kv:a", []byte(`{"n":2}`), time.Hour), "overwrite a")
	get("kv:a", `{"n":2}`)
	time.Sleep(300 * time.Millisecond)
	get("kv:short", "")
	if _, err := s.GetValue(ctx, account(), "kv:a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another account reads kv:a: %v", err)
	}
	// A holder that lost the lease writes nothing.
	l1, err := s.AcquireLease(ctx, acct, "one", 100*time.Millisecond)
	must(t, err, "acquire")
	time.Sleep(200 * time.Millisecond)
	l2, err := s.AcquireLease(ctx, acct, "two", time.Minute)
	must(t, err, "take over")
	if err := s.SetValue(ctx, acct, l1.Token, "kv:a", []byte("stale"), 0); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("set with a stale fence = %v, want ErrFenced", err)
	}
	if err := s.DeleteValue(ctx, acct, l1.Token, "kv:a"); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("delete with a stale fence = %v, want ErrFenced", err)
	}
	get("kv:a", `{"n":2}`)
	must(t, s.DeleteValue(ctx, acct, l2.Token, "kv:a"), "delete")
	get("kv:a", "")
}

func testTimers(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	t0 := time.Now().Truncate(time.Millisecond)
	timer := func(id string, in time.Duration) store.Timer {
		return store.Timer{ID: id, Due: t0.Add(in), Entry: store.Entry{EventID: "ev-" + id, Conversation: "/c1", Payload: []byte(`{"k":"timer.fired"}`)}}
	}
	due := func(at time.Duration, want ...string) []store.Timer {
		t.Helper()
		got, err := s.DueTimers(ctx, acct, t0.Add(at), 10)
		must(t, err, "due timers")
		var ids []string
		for _, x := range got {
			ids = append(ids, x.ID)
		}
		if !slices.Equal(ids, want) {
			t.Fatalf("due at +%v: %v, want %v", at, ids, want)
		}
		return got
	}
	due(time.Hour)
	must(t, s.SetTimer(ctx, acct, 0, timer("b", 2*time.Minute)), "set b")
	must(t, s.SetTimer(ctx, acct, 0, timer("a", time.Minute)), "set a")
	must(t, s.SetTimer(ctx, acct, 0, timer("c", time.Hour)), "set c")
	due(0)
	got := due(5*time.Minute, "a", "b")
	if !got[0].Due.Equal(t0.Add(time.Minute)) || got[0].Entry.EventID != "ev-a" || string(got[0].Entry.Payload) != `{"k":"timer.fired"}` {
		t.Fatalf("timer a read back as %+v", got[0])
	}
	// Set again, b moves later; dropping the old b keeps the new one.
	must(t, s.SetTimer(ctx, acct, 0, timer("b", 30*time.Minute)), "set b again")
	must(t, s.DropTimer(ctx, acct, 0, "b", t0.Add(2*time.Minute)), "drop the old b")
	must(t, s.DropTimer(ctx, acct, 0, "a", t0.Add(time.Minute)), "drop a")
	due(5 * time.Minute)
	due(45*time.Minute, "b")
	must(t, s.CancelTimer(ctx, acct, 0, "b"), "cancel b")
	must(t, s.CancelTimer(ctx, acct, 0, "never-set"), "cancel an unknown timer")
	due(2*time.Hour, "c")
	// A conversation's timers go at once.
	must(t, s.SetTimer(ctx, acct, 0, timer("/c2|x", time.Minute)), "set /c2|x")
	must(t, s.SetTimer(ctx, acct, 0, timer("/c2|y", time.Minute)), "set /c2|y")
	must(t, s.SetTimer(ctx, acct, 0, timer("/c20|z", time.Minute)), "set /c20|z")
	must(t, s.CancelTimers(ctx, acct, 0, "/c2|"), "cancel the timers of /c2")
	due(2*time.Hour, "/c20|z", "c")
	must(t, s.CancelTimer(ctx, acct, 0, "/c20|z"), "cancel /c20|z")
	// A holder that lost the lease changes nothing.
	l1, err := s.AcquireLease(ctx, acct, "one", 100*time.Millisecond)
	must(t, err, "acquire")
	time.Sleep(200 * time.Millisecond)
	if _, err := s.AcquireLease(ctx, acct, "two", time.Minute); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"set":    s.SetTimer(ctx, acct, l1.Token, timer("d", 0)),
		"cancel": s.CancelTimer(ctx, acct, l1.Token, "c"),
		"drop":   s.DropTimer(ctx, acct, l1.Token, "c", t0.Add(time.Hour)),
	} {
		if !errors.Is(err, store.ErrFenced) {
			t.Errorf("%s with a stale fence = %v, want ErrFenced", name, err)
		}
	}
	due(2*time.Hour, "c")
}

func testSessions(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	if _, err := s.LoadSession(ctx, acct); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("load of a missing session = %v, want ErrNotFound", err)
	}
	want := store.Session{
		ApplicationURL: "/ucwa/oauth/v1/applications/101",
		EventsURL:      "/ucwa/oauth/v1/applications/101/events?ack=7",
		EndpointID:     "7c3e2a",
		Updated:        time.Date(2026, 11, 24, 10, 0, 0, 123456789, time.UTC),
	}
	must(t, s.SaveSession(ctx, acct, 0, want), "save")
	got, err := s.LoadSession(ctx, acct)
	must(t, err, "load")
	if got.ApplicationURL != want.ApplicationURL || got.EventsURL != want.EventsURL ||
		got.EndpointID != want.EndpointID || !got.Updated.Equal(want.Updated) {
		t.Fatalf("session = %+v, want %+v", got, want)
	}
	want.EventsURL = "/ucwa/oauth/v1/applications/101/events?ack=8"
	must(t, s.SaveSession(ctx, acct, 0, want), "save again")
	got, err = s.LoadSession(ctx, acct)
	must(t, err, "load")
	if got.EventsURL != want.EventsURL {
		t.Fatalf("events url = %q, want %q", got.EventsURL, want.EventsURL)
	}
}

// secretName matches keys that would hold a credential.
var secretName = regexp.MustCompile(`(?i)token|password|passwd|secret|auth|cookie|credential|bearer`)

func testSessionNoSecret(t *testing.T, newStore NewStore) {
	b, err := json.Marshal(store.Session{ApplicationURL: "a", EventsURL: "e", EndpointID: "x", Updated: time.Now()})
	must(t, err, "marshal")
	var m map[string]any
	must(t, json.Unmarshal(b, &m), "unmarshal")
	var keys []string
	for k := range m {
		keys = append(keys, k)
		if secretName.MatchString(k) {
			t.Errorf("session record has a secret-like field %q", k)
		}
	}
	slices.Sort(keys)
	if want := []string{"applicationUrl", "endpointId", "eventsUrl", "updated"}; !slices.Equal(keys, want) {
		t.Fatalf("session JSON keys = %v, want %v (review new fields for secrets)", keys, want)
	}
}

func testPing(t *testing.T, newStore NewStore) {
	s := newStore(t)
	must(t, s.Ping(ctxFor(t)), "ping")
}
