package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ucwabot/ucwabot/store"
)

// SetValue writes the value with SET PX after checking the fence.
func (s *Store) SetValue(ctx context.Context, account string, fence int64, key string, value []byte, ttl time.Duration) error {
	var px int64
	if ttl > 0 {
		px = ms(ttl)
	}
	return s.fencedValue(ctx, "set value", setValueScript, account, fence, key, value, px)
}

// DeleteValue deletes the value after checking the fence.
func (s *Store) DeleteValue(ctx context.Context, account string, fence int64, key string) error {
	return s.fencedValue(ctx, "delete value", deleteValueScript, account, fence, key)
}

func (s *Store) fencedValue(ctx context.Context, op string, script *redis.Script, account string, fence int64, key string, args ...any) error {
	k, err := s.keys(account)
	if err != nil {
		return err
	}
	n, err := script.Run(ctx, s.rdb, []string{k.fence(), k.value(key)}, append([]any{fence}, args...)...).Int64()
	if err != nil {
		return wrap(op, account, err)
	}
	if n == -1 {
		return wrap(op, account, store.ErrFenced)
	}
	return nil
}

// GetValue reads the value; store.ErrNotFound when missing or expired.
func (s *Store) GetValue(ctx context.Context, account, key string) ([]byte, error) {
	k, err := s.keys(account)
	if err != nil {
		return nil, err
	}
	b, err := s.rdb.Get(ctx, k.value(key)).Bytes()
	if err != nil {
		return nil, wrap("get value", account, err)
	}
	return b, nil
}

var _ store.Values = (*Store)(nil)
