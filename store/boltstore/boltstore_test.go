package boltstore_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/boltstore"
	"github.com/ucwabot/ucwabot/store/storetest"
)

func openTest(t testing.TB, path string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, boltstore.Options{StateTTL: time.Hour, SweepInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStore_conformance(t *testing.T) {
	var paths sync.Map // *testing.T → file
	storetest.Run(t, func(t *testing.T) store.Store {
		p, ok := paths.Load(t)
		if !ok {
			p = filepath.Join(t.TempDir(), "ucwabot.db")
			paths.Store(t, p)
		}
		return openTest(t, p.(string))
	})
}

func TestOpen_second_opener_gets_a_clear_error(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ucwabot.db")
	openTest(t, path)
	_, err := boltstore.Open(path, boltstore.Options{LockTimeout: 100 * time.Millisecond})
	if err == nil {
		t.Fatal("second open of a locked file succeeded")
	}
	if want := "boltstore: open " + path + ": file is locked by another process"; err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
}

func TestStore_state_survives_reopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ucwabot.db")
	s := openTest(t, path)
	ctx := t.Context()
	if err := s.UpdateState(ctx, "sip:bot@contoso.com", "c1", func(f store.Fields) error {
		f["step"] = []byte(`"asked"`)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mark(ctx, "sip:bot@contoso.com", "sent:1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, path)
	f, err := s.LoadState(ctx, "sip:bot@contoso.com", "c1")
	if err != nil || string(f["step"]) != `"asked"` {
		t.Fatalf("state after reopen = %s, %v", f["step"], err)
	}
	if set, err := s.Mark(ctx, "sip:bot@contoso.com", "sent:1", time.Hour); err != nil || set {
		t.Fatalf("mark after reopen = %v, %v; want still set", set, err)
	}
}

func TestOpen_creates_a_missing_store_directory_0700(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bot-data", "nested")
	path := filepath.Join(dir, "ucwabot.db")
	openTest(t, path)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("store directory not created: %v", err)
	}
	if perm := fi.Mode().Perm(); perm&^0o700 != 0 {
		t.Fatalf("store directory mode = %o, want 0700 (umask may clear bits, never add)", perm)
	}
}
