package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ucwabot/ucwabot/store"
)

// LoadState returns the conversation's fields; a conversation whose state
// TTL passed has none, as in Redis.
func (s *Store) LoadState(ctx context.Context, account, conv string) (store.Fields, error) {
	f := store.Fields{}
	err := s.view("load state", account+"/"+conv, func(tx *bolt.Tx) error {
		if !s.fresh(tx, account, conv, time.Now()) {
			return nil
		}
		return readFields(convBucket(tx, account, conv), f)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// fresh reports whether the conversation was written within the state TTL.
func (s *Store) fresh(tx *bolt.Tx, account, conv string, now time.Time) bool {
	t := sub(tx, account, bucketTouched)
	if t == nil {
		return false
	}
	v := t.Get([]byte(conv))
	if v == nil {
		return false
	}
	return s.opts.StateTTL < 0 || getTime(v).Add(s.opts.StateTTL).After(now)
}

func readFields(b *bolt.Bucket, f store.Fields) error {
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		f[string(k)] = json.RawMessage(bytes.Clone(v))
		return nil
	})
}

// UpdateState runs read, fn and write in one batched write transaction.
// fn may be called more than once.
func (s *Store) UpdateState(ctx context.Context, account, conv string, fn func(store.Fields) error) error {
	var fnErr error
	err := s.batch("update state", account+"/"+conv, func(tx *bolt.Tx) error {
		fnErr = nil
		now := time.Now()
		f := store.Fields{}
		if s.fresh(tx, account, conv, now) {
			if err := readFields(convBucket(tx, account, conv), f); err != nil {
				return err
			}
		}
		if err := fn(f); err != nil {
			fnErr = err
			return nil
		}
		for name, v := range f {
			if !json.Valid(v) {
				fnErr = fmt.Errorf("boltstore: update state %s/%s: field %q: invalid JSON", account, conv, name)
				return nil
			}
		}
		return s.replaceState(tx, account, conv, f, now)
	})
	if err != nil {
		return err
	}
	return fnErr
}

// replaceState makes f the conversation's whole state, or forgets the
// conversation when f is empty.
func (s *Store) replaceState(tx *bolt.Tx, account, conv string, f store.Fields, now time.Time) error {
	states, err := mkSub(tx, account, bucketState)
	if err != nil {
		return err
	}
	if err := s.forget(tx, account, conv); err != nil {
		return err
	}
	if len(f) == 0 {
		return nil
	}
	b, err := states.CreateBucket([]byte(conv))
	if err != nil {
		return err
	}
	for name, v := range f {
		if err := b.Put([]byte(name), v); err != nil {
			return err
		}
	}
	touched, err := mkSub(tx, account, bucketTouched)
	if err != nil {
		return err
	}
	return touched.Put([]byte(conv), nanos(now))
}

// applyState changes the fields named in set and del, keeping the others
// (when the state is still fresh), and refreshes the TTL.
func (s *Store) applyState(tx *bolt.Tx, account, conv string, set store.Fields, del []string, now time.Time) error {
	f := store.Fields{}
	if s.fresh(tx, account, conv, now) {
		if err := readFields(convBucket(tx, account, conv), f); err != nil {
			return err
		}
	}
	if len(f) == 0 && len(set) == 0 {
		return nil
	}
	for name, v := range set {
		f[name] = v
	}
	for _, name := range del {
		delete(f, name)
	}
	return s.replaceState(tx, account, conv, f, now)
}

// forget deletes the conversation's fields and last write time.
func (s *Store) forget(tx *bolt.Tx, account, conv string) error {
	if b := sub(tx, account, bucketState); b != nil && b.Bucket([]byte(conv)) != nil {
		if err := b.DeleteBucket([]byte(conv)); err != nil {
			return err
		}
	}
	if b := sub(tx, account, bucketTouched); b != nil {
		return b.Delete([]byte(conv))
	}
	return nil
}

// DeleteState removes the conversation's state.
func (s *Store) DeleteState(ctx context.Context, account, conv string) error {
	return s.batch("delete state", account+"/"+conv, func(tx *bolt.Tx) error {
		return s.forget(tx, account, conv)
	})
}

// Conversations lists the conversations written within the state TTL.
func (s *Store) Conversations(ctx context.Context, account string) ([]string, error) {
	var convs []string
	now := time.Now()
	err := s.view("list conversations", account, func(tx *bolt.Tx) error {
		t := sub(tx, account, bucketTouched)
		if t == nil {
			return nil
		}
		return t.ForEach(func(k, v []byte) error {
			if s.opts.StateTTL < 0 || getTime(v).Add(s.opts.StateTTL).After(now) {
				convs = append(convs, string(k))
			}
			return nil
		})
	})
	return convs, err
}

// Expired removes and returns the conversations last written a state TTL
// or more before now.
func (s *Store) Expired(ctx context.Context, account string, now time.Time) ([]string, error) {
	if s.opts.StateTTL < 0 {
		return nil, nil
	}
	var convs []string
	err := s.batch("expire conversations", account, func(tx *bolt.Tx) error {
		convs = nil
		t := sub(tx, account, bucketTouched)
		if t == nil {
			return nil
		}
		if err := t.ForEach(func(k, v []byte) error {
			if !getTime(v).Add(s.opts.StateTTL).After(now) {
				convs = append(convs, string(k))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, c := range convs {
			if err := s.forget(tx, account, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return convs, nil
}

// convBucket returns the conversation's field bucket, nil when none.
func convBucket(tx *bolt.Tx, account, conv string) *bolt.Bucket {
	b := sub(tx, account, bucketState)
	if b == nil {
		return nil
	}
	return b.Bucket([]byte(conv))
}
