package redisstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ucwabot/ucwabot/store"
)

// Mark sets the mark with SET NX PX and reports whether this call set it.
// A ttl of zero or less sets a mark that never expires.
func (s *Store) Mark(ctx context.Context, account, key string, ttl time.Duration) (bool, error) {
	k, err := s.keys(account)
	if err != nil {
		return false, err
	}
	ok, err := s.rdb.SetNX(ctx, k.mark(key), "1", max(ttl, 0)).Result()
	if err != nil {
		return false, wrap("mark", account, err)
	}
	return ok, nil
}

// Unmark deletes the mark.
func (s *Store) Unmark(ctx context.Context, account, key string) error {
	k, err := s.keys(account)
	if err != nil {
		return err
	}
	return wrap("unmark", account, s.rdb.Del(ctx, k.mark(key)).Err())
}

// SaveSession writes the session record after checking the fence.
func (s *Store) SaveSession(ctx context.Context, account string, fence int64, sess store.Session) error {
	k, err := s.keys(account)
	if err != nil {
		return err
	}
	b, err := json.Marshal(sess)
	if err != nil {
		return wrap("save session", account, err)
	}
	n, err := saveSessionScript.Run(ctx, s.rdb, []string{k.fence(), k.session()}, fence, b).Int64()
	if err != nil {
		return wrap("save session", account, err)
	}
	if n == -1 {
		return wrap("save session", account, store.ErrFenced)
	}
	return nil
}

// LoadSession reads the session record; store.ErrNotFound when none.
func (s *Store) LoadSession(ctx context.Context, account string) (store.Session, error) {
	k, err := s.keys(account)
	if err != nil {
		return store.Session{}, err
	}
	b, err := s.rdb.Get(ctx, k.session()).Bytes()
	if err != nil {
		return store.Session{}, wrap("load session", account, err)
	}
	var sess store.Session
	if err := json.Unmarshal(b, &sess); err != nil {
		return store.Session{}, wrap("decode session", account, err)
	}
	return sess, nil
}
