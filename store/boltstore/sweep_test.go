package boltstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ucwabot/ucwabot/store"
)

func TestSweep_deletes_expired_marks_from_the_file(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "ucwabot.db"), Options{SweepInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const acct = "sip:bot@contoso.com"
	if _, err := s.Mark(ctx, acct, "short", 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mark(ctx, acct, "long", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, acct, 0, []store.Entry{{EventID: "e1"}}); err != nil {
		t.Fatal(err)
	}
	es, err := s.Pending(ctx, acct, 1, 0)
	if err != nil || len(es) != 1 {
		t.Fatalf("pending = %v, %v", es, err)
	}
	if err := s.Complete(ctx, acct, store.Completion{Entry: es[0], DoneTTL: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	count := func(name []byte) (n int) {
		_ = s.db.View(func(tx *bolt.Tx) error {
			n = sub(tx, acct, name).Stats().KeyN
			return nil
		})
		return n
	}
	deadline := time.Now().Add(5 * time.Second)
	for count(bucketMarks) != 1 || count(bucketDone) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after sweeping: %d marks, %d done marks; want 1 and 0", count(bucketMarks), count(bucketDone))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
