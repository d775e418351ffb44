package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/redisstore"
)

func TestStore_takeover_replays_the_dead_holders_entries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	prefix := testPrefix(t)
	a := openTest(t, prefix, redisstore.Options{Consumer: "instance-a"})
	b := openTest(t, prefix, redisstore.Options{Consumer: "instance-b"})
	const acct = "sip:bot@contoso.com"

	la, err := a.AcquireLease(ctx, acct, "instance-a", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.AcquireLease(ctx, acct, "instance-b", time.Second); !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("b's acquire while a holds = %v, want ErrLeaseHeld", err)
	}
	batch := []store.Entry{
		{EventID: "e1", Conversation: "c1", Payload: []byte("1")},
		{EventID: "e2", Conversation: "c1", Payload: []byte("2")},
		{EventID: "e3", Conversation: "c1", Payload: []byte("3")},
	}
	if err := a.Append(ctx, acct, la.Token, batch); err != nil {
		t.Fatal(err)
	}
	es, err := a.Pending(ctx, acct, 2, 0)
	if err != nil || len(es) != 2 {
		t.Fatalf("a's pending = %v, %v", es, err)
	}
	if err := a.Complete(ctx, acct, store.Completion{Entry: es[0], Set: store.Fields{"n": []byte("1")}, Fence: la.Token}); err != nil {
		t.Fatal(err)
	}

	// a stops renewing (it died, or hangs); b takes over after the TTL.
	var lb store.Lease
	deadline := time.Now().Add(5 * time.Second)
	for {
		lb, err = b.AcquireLease(ctx, acct, "instance-b", time.Minute)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrLeaseHeld) || time.Now().After(deadline) {
			t.Fatalf("takeover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lb.Token <= la.Token {
		t.Fatalf("b's token %d, want more than a's %d", lb.Token, la.Token)
	}
	var got []string
	for {
		es, err := b.Pending(ctx, acct, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			got = append(got, e.EventID)
			if err := b.Complete(ctx, acct, store.Completion{Entry: e, Set: store.Fields{"n": []byte(e.Payload)}, Fence: lb.Token}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if strings.Join(got, ",") != "e2,e3" {
		t.Fatalf("b replayed %v, want [e2 e3] (e2 delivered to a, e3 never delivered)", got)
	}
	// a wakes up and tries to finish its work: fenced, nothing written.
	err = a.Complete(ctx, acct, store.Completion{Entry: es[1], Set: store.Fields{"n": []byte("99")}, Fence: la.Token})
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("old holder's complete = %v, want ErrFenced", err)
	}
	if _, err := a.RenewLease(ctx, la, time.Minute); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("old holder's renew = %v, want ErrFenced", err)
	}
	f, err := b.LoadState(ctx, acct, "c1")
	if err != nil || string(f["n"]) != "3" {
		t.Fatalf("state = %s, %v; want n=3", f["n"], err)
	}
}

func TestStore_keys_share_the_accounts_hash_tag(t *testing.T) {
	ctx := context.Background()
	prefix := testPrefix(t)
	s := openTest(t, prefix, redisstore.Options{})
	const acct = "sip:bot@contoso.com"
	l, err := s.AcquireLease(ctx, acct, "me", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, acct, l.Token, []store.Entry{{EventID: "e1", Conversation: "c1"}, {EventID: "e2", Conversation: "c1"}}); err != nil {
		t.Fatal(err)
	}
	es, err := s.Pending(ctx, acct, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, acct, store.Completion{Entry: es[0], Set: store.Fields{"a": []byte("1")}, Fence: l.Token}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mark(ctx, acct, "cooldown", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSession(ctx, acct, l.Token, store.Session{ApplicationURL: "/app"}); err != nil {
		t.Fatal(err)
	}
	keys, err := s.Client().Keys(ctx, prefix+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, k := range []string{"fence", "lease", "inbox", "queued", "done:e1", "state:c1", "convs", "mark:cooldown", "session"} {
		want[prefix+":{"+acct+"}:"+k] = true
	}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("unexpected key %q", k)
		}
		delete(want, k)
	}
	for k := range want {
		t.Errorf("missing key %q", k)
	}
	ttl, err := s.Client().PTTL(ctx, prefix+":{"+acct+"}:state:c1").Result()
	if err != nil || ttl <= 0 {
		t.Errorf("state key ttl = %v, %v; want the state TTL", ttl, err)
	}
}

func TestOpen_rejects_bad_urls_without_leaking_the_password(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{
		"redis://user:hunter2@127.0.0.1:6379/0?no_such_option=1",
		"redis+cluster://user:hunter2@127.0.0.1:6379?no_such_option=1",
		"redis://user:hunter2@127.0.0.1:26379/0?master_name=m&no_such_option=1",
	} {
		_, err := redisstore.Open(ctx, url, redisstore.Options{})
		if err == nil {
			t.Fatalf("open %s: no error", url)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("error leaks the password: %v", err)
		}
	}
	if _, err := redisstore.Open(ctx, "redis://127.0.0.1:6379", redisstore.Options{Prefix: "a{b"}); err == nil {
		t.Fatal("a prefix with a brace was accepted")
	}
}
