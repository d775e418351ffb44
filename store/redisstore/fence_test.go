package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/redisstore"
	"github.com/ucwabot/ucwabot/store/redisstore/redistest"
)

func TestStore_refuses_the_old_holder_after_redis_restarts_empty(t *testing.T) {
	srv := redistest.NewServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := srv.URL() + "?dial_timeout=200ms&read_timeout=500ms&write_timeout=500ms&max_retries=1"
	s, err := redisstore.Open(ctx, url, redisstore.Options{Prefix: "ucwabot:fence"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const acct = "sip:bot@contoso.com"

	// Several takeovers before the loss, so a restarting counter would
	// hand out tokens below the old holder's.
	var old store.Lease
	for _, owner := range []string{"a", "b", "c"} {
		if old.Owner != "" {
			if err := s.ReleaseLease(ctx, old); err != nil {
				t.Fatal(err)
			}
		}
		if old, err = s.AcquireLease(ctx, acct, owner, time.Minute); err != nil {
			t.Fatal(err)
		}
	}

	srv.StopEmpty()
	srv.Start()

	var cur store.Lease
	if _, err := retry(ctx, func() error {
		cur, err = s.AcquireLease(ctx, acct, "d", time.Minute)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if cur.Token <= old.Token {
		t.Fatalf("token after an empty restart = %d, want more than the old holder's %d", cur.Token, old.Token)
	}
	if _, err := s.LeaseHolder(ctx, acct); err != nil {
		t.Fatal(err)
	}
	entry := store.Entry{EventID: "e1", Conversation: "c1", Payload: []byte("{}")}
	if err := s.Append(ctx, acct, old.Token, []store.Entry{entry}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("old holder's append after the restart = %v, want store.ErrFenced", err)
	}
	if err := s.SaveSession(ctx, acct, old.Token, store.Session{ApplicationURL: "/app/old"}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("old holder's save session after the restart = %v, want store.ErrFenced", err)
	}
	if _, err := s.RenewLease(ctx, old, time.Minute); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("old holder's renew after the restart = %v, want store.ErrFenced", err)
	}
	if err := s.Append(ctx, acct, cur.Token, []store.Entry{entry}); err != nil {
		t.Fatalf("new holder's append: %v", err)
	}
	es, err := s.Pending(ctx, acct, 10, 0)
	if err != nil || len(es) != 1 {
		t.Fatalf("pending = %v, %v; want the new holder's entry", es, err)
	}
	if err := s.Complete(ctx, acct, store.Completion{Entry: es[0], Set: store.Fields{"a": []byte("1")}, Fence: old.Token, DoneTTL: time.Hour}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("old holder's complete after the restart = %v, want store.ErrFenced", err)
	}
	if err := s.Complete(ctx, acct, store.Completion{Entry: es[0], Set: store.Fields{"a": []byte("1")}, Fence: cur.Token, DoneTTL: time.Hour}); err != nil {
		t.Fatalf("new holder's complete: %v", err)
	}
}
