package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/redisstore"
	"github.com/ucwabot/ucwabot/store/redisstore/redistest"
)

// retry calls fn until it succeeds, as the engine does with backoff.
func retry(ctx context.Context, fn func() error) (failures int, err error) {
	for {
		err := fn()
		if err == nil {
			return failures, nil
		}
		if errors.Is(err, store.ErrFenced) || ctx.Err() != nil {
			return failures, err
		}
		failures++
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStore_survives_a_redis_outage(t *testing.T) {
	srv := redistest.NewServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	url := srv.URL() + "?dial_timeout=200ms&read_timeout=500ms&write_timeout=500ms&max_retries=1"
	s, err := redisstore.Open(ctx, url, redisstore.Options{Prefix: "ucwabot:outage"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const acct, events = "sip:bot@contoso.com", 30

	batch := make([]store.Entry, events)
	for i := range batch {
		batch[i] = store.Entry{EventID: fmt.Sprintf("e%d", i), Conversation: "c1", Payload: []byte("{}")}
	}
	if err := s.Append(ctx, acct, 0, batch); err != nil {
		t.Fatal(err)
	}

	// A worker completes every event, retrying through the outage.
	worked := make(chan error, 1)
	failures := 0
	go func() {
		for i := 0; i < events; {
			es, err := s.Pending(ctx, acct, 5, 50*time.Millisecond)
			if err != nil {
				failures++
				time.Sleep(20 * time.Millisecond)
				continue
			}
			for _, e := range es {
				n, err := retry(ctx, func() error {
					return s.Complete(ctx, acct, store.Completion{Entry: e, Set: store.Fields{"last": []byte(fmt.Sprint(i))}, DoneTTL: time.Hour})
				})
				failures += n
				if err != nil {
					worked <- err
					return
				}
				i++
				time.Sleep(10 * time.Millisecond)
			}
		}
		worked <- nil
	}()

	time.Sleep(100 * time.Millisecond)
	srv.Stop()
	err = s.UpdateState(ctx, acct, "c2", func(f store.Fields) error { f["a"] = []byte("1"); return nil })
	if err == nil {
		t.Fatal("update state succeeded while Redis was down")
	}
	if !strings.HasPrefix(err.Error(), "redisstore: update state "+acct+"/c2: ") ||
		errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrFenced) {
		t.Fatalf("error during the outage = %q, want one naming the operation and the cause", err)
	}
	t.Logf("error during the outage: %v", err)
	if err := s.Ping(ctx); err == nil {
		t.Fatal("ping succeeded while Redis was down")
	}
	time.Sleep(500 * time.Millisecond)
	srv.Start()

	if err := <-worked; err != nil {
		t.Fatalf("worker: %v", err)
	}
	if failures == 0 {
		t.Fatal("the worker never saw the outage")
	}
	if _, err := retry(ctx, func() error {
		return s.UpdateState(ctx, acct, "c2", func(f store.Fields) error { f["a"] = []byte("1"); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	f, err := s.LoadState(ctx, acct, "c1")
	if err != nil || string(f["last"]) != fmt.Sprint(events-1) {
		t.Fatalf("state after the outage = %s, %v; want last=%d", f["last"], err, events-1)
	}
	if n, err := s.Len(ctx, acct); err != nil || n != 0 {
		t.Fatalf("inbox after the outage: len %d, %v; want 0", n, err)
	}
	for i := range batch {
		if done, err := s.Done(ctx, acct, batch[i].EventID); err != nil || !done {
			t.Fatalf("event %s not done after the outage: %v", batch[i].EventID, err)
		}
	}
	t.Logf("%d failed calls during the outage, all retried", failures)
}
