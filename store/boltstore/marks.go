package boltstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ucwabot/ucwabot/store"
)

// Mark sets the mark for ttl when it is not set (or expired) and reports
// whether this call set it. A ttl of zero or less never expires.
func (s *Store) Mark(ctx context.Context, account, key string, ttl time.Duration) (bool, error) {
	var set bool
	err := s.batch("mark", account, func(tx *bolt.Tx) error {
		set = false
		marks, err := mkSub(tx, account, bucketMarks)
		if err != nil {
			return err
		}
		now := time.Now()
		if live(marks.Get([]byte(key)), now) {
			return nil
		}
		var exp []byte = u64(0)
		if ttl > 0 {
			exp = nanos(now.Add(ttl))
		}
		set = true
		return marks.Put([]byte(key), exp)
	})
	return set, err
}

// Unmark removes the mark.
func (s *Store) Unmark(ctx context.Context, account, key string) error {
	return s.batch("unmark", account, func(tx *bolt.Tx) error {
		if b := sub(tx, account, bucketMarks); b != nil {
			return b.Delete([]byte(key))
		}
		return nil
	})
}

// SaveSession writes the session record after checking the fence.
func (s *Store) SaveSession(ctx context.Context, account string, fence int64, sess store.Session) error {
	v, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("boltstore: save session %s: %w", account, err)
	}
	var fenced error
	err = s.batch("save session", account, func(tx *bolt.Tx) error {
		fenced = checkFence(tx, account, fence)
		if fenced != nil {
			return nil
		}
		meta, err := mkSub(tx, account, bucketMeta)
		if err != nil {
			return err
		}
		return meta.Put(keySession, v)
	})
	if err != nil {
		return err
	}
	if fenced != nil {
		return fmt.Errorf("boltstore: save session %s: %w", account, fenced)
	}
	return nil
}

// LoadSession reads the session record; store.ErrNotFound when none.
func (s *Store) LoadSession(ctx context.Context, account string) (store.Session, error) {
	var sess store.Session
	err := s.view("load session", account, func(tx *bolt.Tx) error {
		meta := sub(tx, account, bucketMeta)
		if meta == nil {
			return store.ErrNotFound
		}
		v := meta.Get(keySession)
		if v == nil {
			return store.ErrNotFound
		}
		return json.Unmarshal(v, &sess)
	})
	return sess, err
}
