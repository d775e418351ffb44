package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/store"
)

func testLeaseHeld(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	if _, err := s.LeaseHolder(ctx, acct); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("holder of a free account = %v, want ErrNotFound", err)
	}
	a, err := s.AcquireLease(ctx, acct, "a", time.Minute)
	must(t, err, "acquire")
	if a.Account != acct || a.Owner != "a" || a.Token <= 0 || time.Until(a.Expires) < 50*time.Second {
		t.Fatalf("lease = %+v", a)
	}
	if _, err := s.AcquireLease(ctx, acct, "b", time.Minute); !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("acquire of a held lease = %v, want ErrLeaseHeld", err)
	}
	again, err := s.AcquireLease(ctx, acct, "a", time.Minute)
	must(t, err, "acquire by the holder")
	if again.Token != a.Token {
		t.Fatalf("holder's second acquire token = %d, want %d (a renewal)", again.Token, a.Token)
	}
	h, err := s.LeaseHolder(ctx, acct)
	must(t, err, "holder")
	if h.Owner != "a" || h.Token != a.Token || time.Until(h.Expires) < 50*time.Second {
		t.Fatalf("holder = %+v, want a's lease", h)
	}
	other, err := s.AcquireLease(ctx, account(), "b", time.Minute)
	must(t, err, "acquire another account")
	if other.Owner != "b" {
		t.Fatalf("other lease = %+v", other)
	}
}

func testLeaseRenewRelease(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	a, err := s.AcquireLease(ctx, acct, "a", 300*time.Millisecond)
	must(t, err, "acquire")
	for i := 0; i < 3; i++ {
		time.Sleep(150 * time.Millisecond)
		a, err = s.RenewLease(ctx, a, 300*time.Millisecond)
		must(t, err, "renew")
	}
	if _, err := s.AcquireLease(ctx, acct, "b", time.Minute); !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("acquire of a renewed lease = %v, want ErrLeaseHeld", err)
	}
	forged := a
	forged.Owner = "b"
	must(t, s.ReleaseLease(ctx, forged), "release by a non-holder")
	if h, err := s.LeaseHolder(ctx, acct); err != nil || h.Owner != "a" {
		t.Fatalf("holder after a non-holder's release = %+v, %v; want a", h, err)
	}
	must(t, s.ReleaseLease(ctx, a), "release")
	if _, err := s.LeaseHolder(ctx, acct); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("holder after release = %v, want ErrNotFound", err)
	}
	if _, err := s.RenewLease(ctx, a, time.Minute); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("renew of a released lease = %v, want ErrFenced", err)
	}
	b, err := s.AcquireLease(ctx, acct, "b", time.Minute)
	must(t, err, "acquire after release")
	if b.Token <= a.Token {
		t.Fatalf("token after release = %d, want more than %d", b.Token, a.Token)
	}
}

func testLeaseTakeover(t *testing.T, newStore NewStore) {
	s, ctx, acct := newStore(t), ctxFor(t), account()
	a, b := takeOver(t, s, acct)
	if _, err := s.RenewLease(ctx, a, time.Minute); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("renew of a lease taken over = %v, want ErrFenced", err)
	}
	must(t, s.ReleaseLease(ctx, a), "release of a lease taken over")
	h, err := s.LeaseHolder(ctx, acct)
	must(t, err, "holder")
	if h.Owner != "b" || h.Token != b.Token {
		t.Fatalf("holder = %+v, want b's lease %+v", h, b)
	}
	if _, err := s.AcquireLease(ctx, acct, "a", time.Minute); !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("old holder's acquire = %v, want ErrLeaseHeld", err)
	}
}

// testFenceAfterDataLoss: a store whose data is gone (Redis restarted
// empty, the embedded file lost or restored from an old copy) still hands
// out fencing tokens above the ones it gave before, so the old holder's
// writes are refused: a fresh, empty storage stands for the lost one.
func testFenceAfterDataLoss(t *testing.T, newStore NewStore) {
	acct := account()
	var old store.Lease
	t.Run("before_the_loss", func(t *testing.T) {
		s, ctx := newStore(t), ctxFor(t)
		for _, owner := range []string{"a", "b", "c"} {
			if old.Owner != "" {
				must(t, s.ReleaseLease(ctx, old), "release")
			}
			var err error
			old, err = s.AcquireLease(ctx, acct, owner, time.Minute)
			must(t, err, "acquire "+owner)
		}
	})
	if old.Owner == "" {
		t.Fatal("no lease before the loss")
	}
	time.Sleep(2 * time.Millisecond) // tokens may come from a millisecond clock
	t.Run("after_the_loss", func(t *testing.T) {
		s, ctx := newStore(t), ctxFor(t)
		cur, err := s.AcquireLease(ctx, acct, "d", time.Minute)
		must(t, err, "acquire on the emptied storage")
		if cur.Token <= old.Token {
			t.Fatalf("token after the data loss = %d, want more than the old holder's %d", cur.Token, old.Token)
		}
		entry := store.Entry{EventID: "e1", Conversation: "c1", Payload: []byte("{}")}
		if err := s.Append(ctx, acct, old.Token, []store.Entry{entry}); !errors.Is(err, store.ErrFenced) {
			t.Fatalf("old holder's append = %v, want ErrFenced", err)
		}
		if err := s.SaveSession(ctx, acct, old.Token, store.Session{ApplicationURL: "/app/old"}); !errors.Is(err, store.ErrFenced) {
			t.Fatalf("old holder's save session = %v, want ErrFenced", err)
		}
		if _, err := s.RenewLease(ctx, old, time.Minute); !errors.Is(err, store.ErrFenced) {
			t.Fatalf("old holder's renewal = %v, want ErrFenced", err)
		}
		must(t, s.Append(ctx, acct, cur.Token, []store.Entry{entry}), "the new holder's append")
	})
}
