// Package boltstore implements store.Store in one bbolt file: the embedded
// default for a single instance, with no server to run.
//
// Writes go through bbolt's Batch: concurrent writes share one transaction
// and one fsync, and each call returns only after its batch is on disk. See
// docs/store.md for the durability window.
package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/ucwabot/ucwabot/store"
)

// Defaults applied by Open for zero Options fields.
const (
	DefaultStateTTL      = 24 * time.Hour
	DefaultDoneTTL       = 24 * time.Hour
	DefaultBatchDelay    = time.Millisecond
	DefaultSweepInterval = time.Minute
	DefaultLockTimeout   = 2 * time.Second
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// StateTTL is how long a conversation's state lives without a write.
	// Zero means DefaultStateTTL; negative disables expiry.
	StateTTL time.Duration
	// DoneTTL is used when a Completion carries none. Zero means
	// DefaultDoneTTL.
	DoneTTL time.Duration
	// BatchDelay is the longest a write waits for others to share its
	// transaction and fsync. Zero means DefaultBatchDelay.
	BatchDelay time.Duration
	// SweepInterval is how often expired done marks and marks are
	// deleted from the file. Zero means DefaultSweepInterval.
	SweepInterval time.Duration
	// LockTimeout bounds the wait for the file lock held by another
	// process. Zero means DefaultLockTimeout.
	LockTimeout time.Duration
}

// Store is a store.Store in a bbolt file. It is safe for concurrent use;
// one process at a time opens a file.
type Store struct {
	db   *bolt.DB
	path string
	opts Options

	mu      sync.Mutex
	wake    chan struct{}     // closed and replaced after every append
	cursors map[string]uint64 // account → last inbox sequence delivered
	// replayTo: account → last inbox sequence when delivery began (see replayBound)
	replayTo map[string]uint64

	stop      chan struct{}
	swept     chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the store file at path. Close releases it.
func Open(path string, opts Options) (*Store, error) {
	if opts.StateTTL == 0 {
		opts.StateTTL = DefaultStateTTL
	}
	if opts.DoneTTL <= 0 {
		opts.DoneTTL = DefaultDoneTTL
	}
	if opts.BatchDelay <= 0 {
		opts.BatchDelay = DefaultBatchDelay
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	// The store's directory is created when missing (0700: the store holds
	// conversation state), so the default ./bot-data/ucwabot.db works on a
	// fresh checkout, under systemd's StateDirectory and in a container.
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("boltstore: open %s: create directory: %w", path, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: open %s: file is locked by another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	db.MaxBatchDelay = opts.BatchDelay
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketAccounts)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s := &Store{
		db:       db,
		path:     path,
		opts:     opts,
		wake:     make(chan struct{}),
		cursors:  make(map[string]uint64),
		replayTo: make(map[string]uint64),
		stop:     make(chan struct{}),
		swept:    make(chan struct{}),
	}
	go s.sweepLoop()
	return s, nil
}

// Ping reports whether the file is open and readable.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: ping: %w", err)
	}
	if err := s.db.View(func(*bolt.Tx) error { return nil }); err != nil {
		return fmt.Errorf("boltstore: ping %s: %w", s.path, err)
	}
	return nil
}

// Close stops the sweeper and closes the file; calling it again does
// nothing. Leases are kept in the file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.swept
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("boltstore: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// batch runs fn in a shared write transaction. fn may run more than once
// and must reset whatever it reports to the caller.
func (s *Store) batch(op, account string, fn func(tx *bolt.Tx) error) error {
	if err := s.db.Batch(fn); err != nil {
		return fmt.Errorf("boltstore: %s %s: %w", op, account, err)
	}
	return nil
}

// view runs fn in a read transaction.
func (s *Store) view(op, account string, fn func(tx *bolt.Tx) error) error {
	if err := s.db.View(fn); err != nil {
		return fmt.Errorf("boltstore: %s %s: %w", op, account, err)
	}
	return nil
}

// notify wakes every Pending waiting for an append.
func (s *Store) notify() {
	s.mu.Lock()
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
}

func (s *Store) wakeChan() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wake
}

func (s *Store) sweepLoop() {
	defer close(s.swept)
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_ = s.sweep(time.Now())
		}
	}
}
