package boltstore

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ucwabot/ucwabot/store"
)

// SetValue writes the value after checking the fence. The record is the
// expiry (8 bytes) followed by the value.
func (s *Store) SetValue(ctx context.Context, account string, fence int64, key string, value []byte, ttl time.Duration) error {
	rec := u64(0)
	if ttl > 0 {
		rec = nanos(time.Now().Add(ttl))
	}
	rec = append(rec, value...)
	return s.fencedBucket("set value", account, fence, bucketValues, func(b *bolt.Bucket) error { return b.Put([]byte(key), rec) })
}

// DeleteValue removes the value after checking the fence.
func (s *Store) DeleteValue(ctx context.Context, account string, fence int64, key string) error {
	return s.fencedBucket("delete value", account, fence, bucketValues, func(b *bolt.Bucket) error { return b.Delete([]byte(key)) })
}

// fencedBucket runs fn on the account's bucket name in one batched
// transaction after checking the fence.
func (s *Store) fencedBucket(op, account string, fence int64, name []byte, fn func(*bolt.Bucket) error) error {
	var fenced error
	err := s.batch(op, account, func(tx *bolt.Tx) error {
		if fenced = checkFence(tx, account, fence); fenced != nil {
			return nil
		}
		b, err := mkSub(tx, account, name)
		if err != nil {
			return err
		}
		return fn(b)
	})
	if err != nil {
		return err
	}
	if fenced != nil {
		return fmt.Errorf("boltstore: %s %s: %w", op, account, fenced)
	}
	return nil
}

// GetValue reads the value; store.ErrNotFound when missing or expired.
func (s *Store) GetValue(ctx context.Context, account, key string) ([]byte, error) {
	var out []byte
	err := s.view("get value", account, func(tx *bolt.Tx) error {
		b := sub(tx, account, bucketValues)
		if b == nil {
			return store.ErrNotFound
		}
		rec := b.Get([]byte(key))
		if len(rec) < 8 || !live(rec[:8], time.Now()) {
			return store.ErrNotFound
		}
		out = append([]byte(nil), rec[8:]...)
		return nil
	})
	return out, err
}

var _ store.Values = (*Store)(nil)
