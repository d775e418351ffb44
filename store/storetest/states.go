package storetest

import (
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/store"
)

func testStateRoundTrip(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	want := store.Fields{"step": raw("greeted"), "count": raw(2), "who": raw(map[string]any{"name": "Ann"})}
	must(t, s.UpdateState(ctx, acct, "c1", func(f store.Fields) error {
		if len(f) != 0 {
			t.Errorf("fresh state = %s, want empty", dump(f))
		}
		for k, v := range want {
			f[k] = v
		}
		return nil
	}), "update")
	got, err := s.LoadState(ctx, acct, "c1")
	must(t, err, "load")
	assertFields(t, got, want)

	must(t, s.UpdateState(ctx, acct, "c1", func(f store.Fields) error {
		assertFields(t, f, want)
		delete(f, "who")
		f["count"] = raw(3)
		return nil
	}), "second update")
	got, err = s.LoadState(ctx, acct, "c1")
	must(t, err, "load")
	assertFields(t, got, store.Fields{"step": raw("greeted"), "count": raw(3)})
}

func testEmptyState(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	got, err := s.LoadState(ctx, acct, "nobody")
	if err != nil {
		t.Fatalf("load of unknown conversation: %v, want no error", err)
	}
	if got == nil || len(got) != 0 {
		t.Fatalf("load of unknown conversation = %#v, want an empty map", got)
	}
}

func testUpdateStateError(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	must(t, s.UpdateState(ctx, acct, "c1", func(f store.Fields) error {
		f["a"] = raw(1)
		return nil
	}), "update")
	boom := errors.New("boom")
	err := s.UpdateState(ctx, acct, "c1", func(f store.Fields) error {
		f["a"] = raw(2)
		f["b"] = raw(2)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update with failing fn = %v, want the fn's error", err)
	}
	got, err := s.LoadState(ctx, acct, "c1")
	must(t, err, "load")
	assertFields(t, got, store.Fields{"a": raw(1)})
}

func testConcurrentUpdates(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	const goroutines, increments = 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < increments; i++ {
				err := s.UpdateState(ctx, acct, "hot", func(f store.Fields) error {
					var n int
					if v, ok := f["n"]; ok {
						if err := json.Unmarshal(v, &n); err != nil {
							return err
						}
					}
					f["n"] = raw(n + 1)
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent update: %v", err)
	}
	got, err := s.LoadState(ctx, acct, "hot")
	must(t, err, "load")
	assertFields(t, got, store.Fields{"n": raw(goroutines * increments)})
}

func testDeleteState(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	must(t, s.UpdateState(ctx, acct, "c1", func(f store.Fields) error {
		f["a"] = raw(true)
		return nil
	}), "update")
	must(t, s.DeleteState(ctx, acct, "c1"), "delete")
	must(t, s.DeleteState(ctx, acct, "never"), "delete of unknown conversation")
	got, err := s.LoadState(ctx, acct, "c1")
	must(t, err, "load")
	assertFields(t, got, store.Fields{})
	convs, err := s.Conversations(ctx, acct)
	must(t, err, "conversations")
	if len(convs) != 0 {
		t.Fatalf("conversations after delete = %v, want none", convs)
	}
}

func testConversations(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	for _, c := range []string{"c1", "c2", "c3"} {
		must(t, s.UpdateState(ctx, acct, c, func(f store.Fields) error {
			f["x"] = raw(c)
			return nil
		}), "update "+c)
	}
	// Removing the last field forgets the conversation.
	must(t, s.UpdateState(ctx, acct, "c2", func(f store.Fields) error {
		delete(f, "x")
		return nil
	}), "clear c2")
	convs, err := s.Conversations(ctx, acct)
	must(t, err, "conversations")
	slices.Sort(convs)
	if !slices.Equal(convs, []string{"c1", "c3"}) {
		t.Fatalf("conversations = %v, want [c1 c3]", convs)
	}
}

func testExpired(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	must(t, s.UpdateState(ctx, acct, "old", func(f store.Fields) error {
		f["a"] = raw(1)
		return nil
	}), "update")
	got, err := s.Expired(ctx, acct, time.Now())
	must(t, err, "expired now")
	if len(got) != 0 {
		t.Fatalf("expired right after a write = %v, want none", got)
	}
	got, err = s.Expired(ctx, acct, time.Now().Add(30*24*time.Hour))
	must(t, err, "expired later")
	if !slices.Equal(got, []string{"old"}) {
		t.Fatalf("expired after the TTL = %v, want [old]", got)
	}
	got, err = s.Expired(ctx, acct, time.Now().Add(30*24*time.Hour))
	must(t, err, "expired again")
	if len(got) != 0 {
		t.Fatalf("second expired = %v, want none (removed by the first)", got)
	}
	convs, err := s.Conversations(ctx, acct)
	must(t, err, "conversations")
	if len(convs) != 0 {
		t.Fatalf("conversations after expiry = %v, want none", convs)
	}
	f, err := s.LoadState(ctx, acct, "old")
	must(t, err, "load")
	assertFields(t, f, store.Fields{})
}

func testAccountsIsolated(t *testing.T, newStore NewStore) {
	s, ctx := newStore(t), ctxFor(t)
	a, b := account(), account()
	must(t, s.UpdateState(ctx, a, "c1", func(f store.Fields) error {
		f["a"] = raw(1)
		return nil
	}), "update")
	must(t, s.Append(ctx, a, 0, []store.Entry{entry("e1", "c1")}), "append")
	got, err := s.LoadState(ctx, b, "c1")
	must(t, err, "load")
	assertFields(t, got, store.Fields{})
	assertLen(t, ctx, s, b, 0)
	es, err := s.Pending(ctx, b, 10, 0)
	must(t, err, "pending")
	assertIDs(t, "other account's pending", es)
}
