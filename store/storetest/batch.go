package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/store"
)

func testAppendBatch(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	sess := store.Session{ApplicationURL: "/app/1", EventsURL: "/app/1/events?ack=2", Updated: time.Unix(1700000000, 0).UTC()}
	b := store.Batch{
		Entries: []store.Entry{entry("e1", "c1"), entry("e2", "c2")},
		Sent:    []string{"op-1", "op-2"},
		MarkTTL: time.Hour,
		Session: &sess,
	}
	n, err := s.AppendBatch(ctx, acct, 0, b)
	must(t, err, "append batch")
	if n != 2 {
		t.Fatalf("append batch returned length %d, want 2", n)
	}
	if b.Entries[0].ID == "" || b.Entries[1].ID == "" {
		t.Fatalf("append batch set ids %q %q, want both", b.Entries[0].ID, b.Entries[1].ID)
	}
	got, err := s.LoadSession(ctx, acct)
	must(t, err, "load session")
	if got.EventsURL != sess.EventsURL || got.ApplicationURL != sess.ApplicationURL {
		t.Fatalf("session after append batch = %+v, want %+v", got, sess)
	}
	for _, op := range b.Sent {
		first, err := s.Mark(ctx, acct, "sent:"+op, time.Hour)
		must(t, err, "mark")
		if first {
			t.Fatalf("sent mark of %s not set by the batch", op)
		}
	}

	// Only marks and a cursor: nothing appended, the length is reported.
	sess.EventsURL = "/app/1/events?ack=3"
	n, err = s.AppendBatch(ctx, acct, 0, store.Batch{Sent: []string{"op-3"}, MarkTTL: 100 * time.Millisecond, Session: &sess})
	must(t, err, "append marks only")
	if n != 2 {
		t.Fatalf("length after a batch without entries = %d, want 2", n)
	}
	got, err = s.LoadSession(ctx, acct)
	must(t, err, "load session")
	if got.EventsURL != sess.EventsURL {
		t.Fatalf("cursor not moved: %q", got.EventsURL)
	}
	time.Sleep(250 * time.Millisecond)
	first, err := s.Mark(ctx, acct, "sent:op-3", time.Hour)
	must(t, err, "mark")
	if !first {
		t.Fatal("sent mark outlived the batch's MarkTTL")
	}

	// A redelivered batch adds nothing.
	again := store.Batch{Entries: []store.Entry{entry("e1", "c1"), entry("e2", "c2"), entry("e3", "c1")}}
	n, err = s.AppendBatch(ctx, acct, 0, again)
	must(t, err, "append again")
	if n != 3 || again.Entries[0].ID != "" || again.Entries[1].ID != "" || again.Entries[2].ID == "" {
		t.Fatalf("redelivered batch: length %d ids %q %q %q, want 3 and only the new one", n, again.Entries[0].ID, again.Entries[1].ID, again.Entries[2].ID)
	}
	assertIDs(t, "pending", drain(t, ctx, s, acct), "e1", "e2", "e3")
}

func testAppendBatchFenced(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	old, _ := takeOver(t, s, acct)
	sess := store.Session{ApplicationURL: "/app/old"}
	_, err := s.AppendBatch(ctx, acct, old.Token, store.Batch{Entries: []store.Entry{entry("e1", "c1")}, Sent: []string{"op"}, MarkTTL: time.Hour, Session: &sess})
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("append batch with a stale fence = %v, want ErrFenced", err)
	}
	assertLen(t, ctx, s, acct, 0)
	if _, err := s.LoadSession(ctx, acct); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("load session after a fenced batch = %v, want ErrNotFound", err)
	}
	first, err := s.Mark(ctx, acct, "sent:op", time.Hour)
	must(t, err, "mark")
	if !first {
		t.Fatal("a fenced batch set its sent mark")
	}
}

func testCompleteBatch(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	must(t, s.UpdateState(ctx, acct, "c1", func(f store.Fields) error {
		f["old"] = raw("x")
		return nil
	}), "update")
	must(t, s.Append(ctx, acct, 0, []store.Entry{entry("e1", "c1"), entry("e2", "c1"), entry("e3", ""), entry("e4", "c2")}), "append")
	es := drain(t, ctx, s, acct)
	assertIDs(t, "pending", es, "e1", "e2", "e3", "e4")

	// Two completions of one conversation in one group: applied in order.
	must(t, s.CompleteBatch(ctx, acct, []store.Completion{
		{Entry: es[0], Set: store.Fields{"n": raw(1), "step": raw("a")}, Delete: []string{"old"}, DoneTTL: time.Hour},
		{Entry: es[1], Set: store.Fields{"n": raw(2)}, Delete: []string{"step"}, DoneTTL: time.Hour},
		{Entry: es[2], DoneTTL: time.Hour},
	}), "complete batch")
	f, err := s.LoadState(ctx, acct, "c1")
	must(t, err, "load")
	assertFields(t, f, store.Fields{"n": raw(2)})
	assertLen(t, ctx, s, acct, 1)
	for _, id := range []string{"e1", "e2", "e3", "e4"} {
		done, err := s.Done(ctx, acct, id)
		must(t, err, "done")
		if done != (id != "e4") {
			t.Fatalf("done(%s) = %v", id, done)
		}
	}

	// A group holding an event already done applies only the others.
	must(t, s.CompleteBatch(ctx, acct, []store.Completion{
		{Entry: es[1], Set: store.Fields{"n": raw(99)}, DoneTTL: time.Hour},
		{Entry: es[3], Set: store.Fields{"m": raw(1)}, DoneTTL: time.Hour},
	}), "complete batch again")
	f, err = s.LoadState(ctx, acct, "c1")
	must(t, err, "load")
	assertFields(t, f, store.Fields{"n": raw(2)})
	f, err = s.LoadState(ctx, acct, "c2")
	must(t, err, "load")
	assertFields(t, f, store.Fields{"m": raw(1)})
	assertLen(t, ctx, s, acct, 0)
}

func testCompleteBatchFenced(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	old, cur := takeOver(t, s, acct)
	must(t, s.Append(ctx, acct, cur.Token, []store.Entry{entry("e1", "c1"), entry("e2", "c2")}), "append")
	es := drain(t, ctx, s, acct)
	err := s.CompleteBatch(ctx, acct, []store.Completion{
		{Entry: es[0], Set: store.Fields{"a": raw(1)}, Fence: old.Token, DoneTTL: time.Hour},
		{Entry: es[1], Set: store.Fields{"a": raw(1)}, Fence: old.Token, DoneTTL: time.Hour},
	})
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("complete batch with a stale fence = %v, want ErrFenced", err)
	}
	assertLen(t, ctx, s, acct, 2)
	for _, c := range []string{"c1", "c2"} {
		f, err := s.LoadState(ctx, acct, c)
		must(t, err, "load")
		if len(f) != 0 {
			t.Fatalf("a fenced group wrote state %s", dump(f))
		}
	}
	err = s.CompleteBatch(ctx, acct, []store.Completion{
		{Entry: es[0], Fence: cur.Token, DoneTTL: time.Hour},
		{Entry: es[1], Fence: old.Token, DoneTTL: time.Hour},
	})
	if err == nil {
		t.Fatal("complete batch with mixed fences succeeded, want an error")
	}
	assertLen(t, ctx, s, acct, 2)
}

func testPendingMarksRedelivered(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	must(t, s.Append(ctx, acct, 0, []store.Entry{entry("e1", "c1"), entry("e2", "c1")}), "append")
	es, err := s.Pending(ctx, acct, 2, 0)
	must(t, err, "pending")
	assertIDs(t, "pending", es, "e1", "e2")
	for _, e := range es {
		if e.Redelivered {
			t.Fatalf("first delivery of %s marked redelivered", e.EventID)
		}
	}
	must(t, s.Complete(ctx, acct, store.Completion{Entry: es[0], DoneTTL: time.Hour}), "complete e1")

	// The process dies with e2 delivered and not completed.
	must(t, s.Close(), "close")
	s2 := newStore(t)
	got := drain(t, ctx, s2, acct)
	assertIDs(t, "pending after reopen", got, "e2")
	if !got[0].Redelivered {
		t.Fatal("an entry delivered before a crash and not completed is not marked redelivered")
	}
	must(t, s2.Append(ctx, acct, 0, []store.Entry{entry("e3", "c1")}), "append e3")
	got = drain(t, ctx, s2, acct)
	assertIDs(t, "pending", got, "e3")
	if got[0].Redelivered {
		t.Fatal("an entry appended after the replay is marked redelivered")
	}
}

func testCompleteForget(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	must(t, s.Append(ctx, acct, 0, []store.Entry{entry("e1", "c1"), entry("e2", "c1"), entry("e3", "c2")}), "append")
	es := drain(t, ctx, s, acct)
	must(t, s.CompleteBatch(ctx, acct, []store.Completion{
		{Entry: es[0], Set: store.Fields{"n": raw(1)}, DoneTTL: time.Hour},
		{Entry: es[2], Set: store.Fields{"n": raw(1)}, DoneTTL: time.Hour},
	}), "complete")
	// The conversation ends: its last event sets a field and forgets it all.
	must(t, s.CompleteBatch(ctx, acct, []store.Completion{
		{Entry: es[1], Set: store.Fields{"bye": raw(true)}, DoneTTL: time.Hour, Forget: true},
	}), "complete the end")
	f, err := s.LoadState(ctx, acct, "c1")
	must(t, err, "load")
	if len(f) != 0 {
		t.Fatalf("state of an ended conversation = %s, want none", dump(f))
	}
	convs, err := s.Conversations(ctx, acct)
	must(t, err, "conversations")
	if len(convs) != 1 || convs[0] != "c2" {
		t.Fatalf("conversations after c1 ended = %q, want only c2", convs)
	}
	done, err := s.Done(ctx, acct, "e2")
	must(t, err, "done")
	if !done {
		t.Fatal("the ended conversation's last event is not done")
	}
	assertLen(t, ctx, s, acct, 0)
}
