package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/store"
)

func testInboxOrder(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	batch := []store.Entry{entry("e1", "c1"), entry("e2", "c2"), entry("e3", "c1"), entry("e4", "")}
	must(t, s.Append(ctx, acct, 0, batch), "append")
	seen := map[string]bool{}
	for _, e := range batch {
		if e.ID == "" || seen[e.ID] {
			t.Fatalf("append set ids %v: want distinct non-empty ids", batch)
		}
		seen[e.ID] = true
	}
	must(t, s.Append(ctx, acct, 0, []store.Entry{entry("e5", "c2")}), "second append")
	assertLen(t, ctx, s, acct, 5)
	got := drain(t, ctx, s, acct)
	assertIDs(t, "pending", got, "e1", "e2", "e3", "e4", "e5")
	for i, e := range got[:4] {
		if e.ID != batch[i].ID || e.Conversation != batch[i].Conversation || string(e.Payload) != string(batch[i].Payload) {
			t.Fatalf("pending entry %d = %+v, want %+v", i, e, batch[i])
		}
	}
}

func testAppendDedupe(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	must(t, s.Append(ctx, acct, 0, []store.Entry{entry("e1", "c1"), entry("e2", "c1")}), "append")

	// A redelivered batch: e2 is queued, e3 is new and appears twice.
	again := []store.Entry{entry("e2", "c1"), entry("e3", "c1"), entry("e3", "c1")}
	must(t, s.Append(ctx, acct, 0, again), "append again")
	if again[0].ID != "" || again[1].ID == "" || again[2].ID != "" {
		t.Fatalf("append of [queued new duplicate] set ids %q %q %q, want only the middle one", again[0].ID, again[1].ID, again[2].ID)
	}
	assertLen(t, ctx, s, acct, 3)

	es, err := s.Pending(ctx, acct, 1, 0)
	must(t, err, "pending")
	assertIDs(t, "pending", es, "e1")
	must(t, s.Complete(ctx, acct, store.Completion{Entry: es[0], DoneTTL: time.Hour}), "complete")
	assertLen(t, ctx, s, acct, 2)

	done := []store.Entry{entry("e1", "c1")}
	must(t, s.Append(ctx, acct, 0, done), "append of a done event")
	if done[0].ID != "" {
		t.Fatalf("append of a done event set id %q, want it skipped", done[0].ID)
	}
	assertLen(t, ctx, s, acct, 2)
	assertIDs(t, "pending", drain(t, ctx, s, acct), "e2", "e3")
}

func testPendingWaits(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	start := time.Now()
	es, err := s.Pending(ctx, acct, 10, 50*time.Millisecond)
	must(t, err, "pending on an empty inbox")
	if len(es) != 0 {
		t.Fatalf("pending on an empty inbox = %v", eventIDs(es))
	}
	if waited := time.Since(start); waited < 40*time.Millisecond {
		t.Fatalf("pending returned after %v, want it to wait about 50ms", waited)
	}

	got := make(chan []store.Entry, 1)
	go func() {
		es, err := s.Pending(ctx, acct, 10, 10*time.Second)
		if err != nil {
			t.Errorf("blocking pending: %v", err)
		}
		got <- es
	}()
	time.Sleep(100 * time.Millisecond)
	must(t, s.Append(ctx, acct, 0, []store.Entry{entry("e1", "c1")}), "append")
	select {
	case es := <-got:
		assertIDs(t, "blocking pending", es, "e1")
	case <-time.After(8 * time.Second):
		t.Fatal("blocking pending did not return after an append")
	}
}

func testPendingOnce(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	must(t, s.Append(ctx, acct, 0, []store.Entry{entry("e1", "c1"), entry("e2", "c1")}), "append")
	assertIDs(t, "first read", drain(t, ctx, s, acct), "e1", "e2")
	must(t, s.Append(ctx, acct, 0, []store.Entry{entry("e3", "c1")}), "append")
	assertIDs(t, "second read (new entries only)", drain(t, ctx, s, acct), "e3")
	assertLen(t, ctx, s, acct, 3)
}

func testPendingReplay(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	must(t, s.Append(ctx, acct, 0, []store.Entry{entry("e1", "c1"), entry("e2", "c1"), entry("e3", "c2"), entry("e4", "c2")}), "append")
	es, err := s.Pending(ctx, acct, 3, 0)
	must(t, err, "pending")
	assertIDs(t, "pending", es, "e1", "e2", "e3")
	must(t, s.Complete(ctx, acct, store.Completion{Entry: es[0], Set: store.Fields{"seen": raw(1)}, DoneTTL: time.Hour}), "complete e1")

	// The process dies with e2 and e3 delivered but not completed.
	must(t, s.Close(), "close")
	s2 := newStore(t)
	got := drain(t, ctx, s2, acct)
	assertIDs(t, "pending after reopen", got, "e2", "e3", "e4")
	assertLen(t, ctx, s2, acct, 3)
	done, err := s2.Done(ctx, acct, "e1")
	must(t, err, "done")
	if !done {
		t.Fatal("e1 not done after reopen")
	}
	f, err := s2.LoadState(ctx, acct, "c1")
	must(t, err, "load")
	assertFields(t, f, store.Fields{"seen": raw(1)})
	for _, e := range got {
		must(t, s2.Complete(ctx, acct, store.Completion{Entry: e, DoneTTL: time.Hour}), "complete "+e.EventID)
	}
	assertLen(t, ctx, s2, acct, 0)
}

func testComplete(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	must(t, s.UpdateState(ctx, acct, "c1", func(f store.Fields) error {
		f["old"] = raw("x")
		f["keep"] = raw(1)
		return nil
	}), "update")
	must(t, s.Append(ctx, acct, 0, []store.Entry{entry("e1", "c1"), entry("e2", "")}), "append")
	es := drain(t, ctx, s, acct)
	assertIDs(t, "pending", es, "e1", "e2")

	must(t, s.Complete(ctx, acct, store.Completion{
		Entry: es[0], Set: store.Fields{"step": raw("asked")}, Delete: []string{"old"}, DoneTTL: time.Hour,
	}), "complete")
	f, err := s.LoadState(ctx, acct, "c1")
	must(t, err, "load")
	assertFields(t, f, store.Fields{"keep": raw(1), "step": raw("asked")})
	assertLen(t, ctx, s, acct, 1)
	for _, id := range []string{"e1", "e2"} {
		done, err := s.Done(ctx, acct, id)
		must(t, err, "done")
		if done != (id == "e1") {
			t.Fatalf("done(%s) = %v", id, done)
		}
	}

	// Completing it again writes nothing.
	must(t, s.Complete(ctx, acct, store.Completion{Entry: es[0], Set: store.Fields{"step": raw("again")}, DoneTTL: time.Hour}), "second complete")
	f, err = s.LoadState(ctx, acct, "c1")
	must(t, err, "load")
	assertFields(t, f, store.Fields{"keep": raw(1), "step": raw("asked")})

	// An account-wide entry with a short done mark.
	must(t, s.Complete(ctx, acct, store.Completion{Entry: es[1], DoneTTL: 100 * time.Millisecond}), "complete e2")
	assertLen(t, ctx, s, acct, 0)
	time.Sleep(250 * time.Millisecond)
	done, err := s.Done(ctx, acct, "e2")
	must(t, err, "done")
	if done {
		t.Fatal("done mark outlived its DoneTTL")
	}
}

func testCompleteFenced(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	old, cur := takeOver(t, s, acct)
	must(t, s.Append(ctx, acct, cur.Token, []store.Entry{entry("e1", "c1")}), "append")
	es := drain(t, ctx, s, acct)
	assertIDs(t, "pending", es, "e1")

	err := s.Complete(ctx, acct, store.Completion{Entry: es[0], Set: store.Fields{"a": raw(1)}, Fence: old.Token, DoneTTL: time.Hour})
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("complete with a stale fence = %v, want ErrFenced", err)
	}
	assertLen(t, ctx, s, acct, 1)
	done, err := s.Done(ctx, acct, "e1")
	must(t, err, "done")
	f, err2 := s.LoadState(ctx, acct, "c1")
	must(t, err2, "load")
	if done || len(f) != 0 {
		t.Fatalf("a fenced complete wrote: done=%v state=%s", done, dump(f))
	}
	must(t, s.Complete(ctx, acct, store.Completion{Entry: es[0], Set: store.Fields{"a": raw(1)}, Fence: cur.Token, DoneTTL: time.Hour}), "complete with the current fence")
	assertLen(t, ctx, s, acct, 0)
}

func testWritesFenced(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	old, _ := takeOver(t, s, acct)
	err := s.Append(ctx, acct, old.Token, []store.Entry{entry("e1", "c1")})
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("append with a stale fence = %v, want ErrFenced", err)
	}
	assertLen(t, ctx, s, acct, 0)
	err = s.SaveSession(ctx, acct, old.Token, store.Session{ApplicationURL: "/app/old"})
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("save session with a stale fence = %v, want ErrFenced", err)
	}
	if _, err := s.LoadSession(ctx, acct); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("load session after a fenced save = %v, want ErrNotFound", err)
	}
}

// takeOver lets owner "a" acquire the account's lease, expire, and owner
// "b" take it over; it returns a's stale lease and b's.
func takeOver(t *testing.T, s store.Store, acct string) (stale, current store.Lease) {
	t.Helper()
	ctx := ctxFor(t)
	a, err := s.AcquireLease(ctx, acct, "a", 100*time.Millisecond)
	must(t, err, "acquire a")
	time.Sleep(200 * time.Millisecond)
	b, err := s.AcquireLease(ctx, acct, "b", time.Minute)
	must(t, err, "take over b")
	if b.Token <= a.Token {
		t.Fatalf("takeover token = %d, want more than %d", b.Token, a.Token)
	}
	return a, b
}

func testPendingCancel(t *testing.T, newStore NewStore) {
	s, acct := newStore(t), account()
	ctx, cancel := context.WithCancel(ctxFor(t))
	go func() {
		time.Sleep(100 * time.Millisecond)
		cancel()
	}()
	start := time.Now()
	_, err := s.Pending(ctx, acct, 10, time.Minute)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("pending after cancel = %v, want context.Canceled", err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("pending noticed the cancel after %v", waited)
	}
}

// testPendingReplaysAfterOwnReacquire: an instance whose tenure ended
// (its lease expired by its own clock, its handlers were cut short) takes
// the account again while its lease still stands in the store. The
// entries the ended tenure read and did not complete are delivered again:
// nothing else would ever deliver them.
func testPendingReplaysAfterOwnReacquire(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	l, err := s.AcquireLease(ctx, acct, "a", time.Minute)
	must(t, err, "acquire")
	must(t, s.Append(ctx, acct, l.Token, []store.Entry{entry("e1", "c1"), entry("e2", "c2")}), "append")
	got := drain(t, ctx, s, acct)
	assertIDs(t, "first tenure", got, "e1", "e2")
	must(t, s.Complete(ctx, acct, store.Completion{Entry: got[0], Fence: l.Token, DoneTTL: time.Hour}), "complete e1")

	// The tenure ends with e2 delivered, not completed; "a" takes the
	// account again before its lease ran out in the store.
	again, err := s.AcquireLease(ctx, acct, "a", time.Minute)
	must(t, err, "acquire again")
	if again.Token != l.Token {
		t.Fatalf("token on taking its own lease again = %d, want %d (still the same lease)", again.Token, l.Token)
	}
	got = drain(t, ctx, s, acct)
	assertIDs(t, "after taking its own lease again", got, "e2")
	if !got[0].Redelivered {
		t.Fatal("e2 not marked redelivered")
	}
}
