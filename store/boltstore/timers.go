package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ucwabot/ucwabot/store"
)

// SetTimer stores the timer after checking the fence.
func (s *Store) SetTimer(ctx context.Context, account string, fence int64, t store.Timer) error {
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("boltstore: set timer %s: %w", account, err)
	}
	return s.fencedBucket("set timer", account, fence, bucketTimers, func(bk *bolt.Bucket) error { return bk.Put([]byte(t.ID), b) })
}

// CancelTimer removes the timer after checking the fence.
func (s *Store) CancelTimer(ctx context.Context, account string, fence int64, id string) error {
	return s.fencedBucket("cancel timer", account, fence, bucketTimers, func(bk *bolt.Bucket) error { return bk.Delete([]byte(id)) })
}

// CancelTimers removes the timers whose ID starts with prefix.
func (s *Store) CancelTimers(ctx context.Context, account string, fence int64, prefix string) error {
	return s.fencedBucket("cancel timers", account, fence, bucketTimers, func(bk *bolt.Bucket) error {
		var ids [][]byte
		c := bk.Cursor()
		for k, _ := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, _ = c.Next() {
			ids = append(ids, append([]byte(nil), k...))
		}
		for _, id := range ids {
			if err := bk.Delete(id); err != nil {
				return err
			}
		}
		return nil
	})
}

// DropTimer removes the timer when it is still due at due.
func (s *Store) DropTimer(ctx context.Context, account string, fence int64, id string, due time.Time) error {
	return s.fencedBucket("drop timer", account, fence, bucketTimers, func(bk *bolt.Bucket) error {
		var t store.Timer
		if v := bk.Get([]byte(id)); v == nil || json.Unmarshal(v, &t) != nil || !t.Due.Equal(due) {
			return nil
		}
		return bk.Delete([]byte(id))
	})
}

// DueTimers reads the timers due at now, earliest first.
func (s *Store) DueTimers(ctx context.Context, account string, now time.Time, n int) ([]store.Timer, error) {
	var out []store.Timer
	err := s.view("due timers", account, func(tx *bolt.Tx) error {
		bk := sub(tx, account, bucketTimers)
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(_, v []byte) error {
			var t store.Timer
			if err := json.Unmarshal(v, &t); err != nil {
				return err
			}
			if !t.Due.After(now) {
				out = append(out, t)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Due.Before(out[j].Due) })
	if len(out) > n {
		out = out[:n]
	}
	return out, err
}

var _ store.Timers = (*Store)(nil)
