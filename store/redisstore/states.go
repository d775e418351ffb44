package redisstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ucwabot/ucwabot/store"
)

// LoadState returns the conversation's fields (HGETALL).
func (s *Store) LoadState(ctx context.Context, account, conv string) (store.Fields, error) {
	k, err := s.keys(account)
	if err != nil {
		return nil, err
	}
	m, err := s.rdb.HGetAll(ctx, k.state(conv)).Result()
	if err != nil {
		return nil, wrap("load state", account+"/"+conv, err)
	}
	return toFields(m), nil
}

func toFields(m map[string]string) store.Fields {
	f := make(store.Fields, len(m))
	for name, v := range m {
		f[name] = json.RawMessage(v)
	}
	return f
}

// UpdateState reads the fields under WATCH, calls fn, and writes only the
// changed fields in MULTI/EXEC, retrying when another writer got there
// first. fn may be called more than once; ctx bounds the retries.
func (s *Store) UpdateState(ctx context.Context, account, conv string, fn func(store.Fields) error) error {
	k, err := s.keys(account)
	if err != nil {
		return err
	}
	key := k.state(conv)
	for attempt := 0; ; attempt++ {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			old, err := tx.HGetAll(ctx, key).Result()
			if err != nil {
				return err
			}
			f := toFields(old)
			if err := fn(f); err != nil {
				return &fnError{err}
			}
			set, del, err := diff(old, f)
			if err != nil {
				return &fnError{err}
			}
			if len(f) == 0 && len(old) == 0 {
				return nil
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				s.writeState(ctx, p, k, conv, set, del, len(f) == 0)
				return nil
			})
			return err
		}, key)
		var fe *fnError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &fe):
			return fe.err
		case errors.Is(err, redis.TxFailedErr):
			if err := ctx.Err(); err != nil {
				return wrap("update state", account+"/"+conv, err)
			}
			if attempt > 8 {
				time.Sleep(time.Duration(attempt%16) * 100 * time.Microsecond)
			}
			continue
		default:
			return wrap("update state", account+"/"+conv, err)
		}
	}
}

// fnError carries the caller's own error out of the WATCH callback.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }

// diff returns the fields of f that are new or changed against old, and
// the fields of old that f no longer has; a value that is not JSON is an
// error.
func diff(old map[string]string, f store.Fields) (set []any, del []string, err error) {
	for name, v := range f {
		if o, ok := old[name]; !ok || !bytes.Equal([]byte(o), v) {
			if !json.Valid(v) {
				return nil, nil, fmt.Errorf("redisstore: update state: field %q: invalid JSON", name)
			}
			set = append(set, name, []byte(v))
		}
	}
	for name := range old {
		if _, ok := f[name]; !ok {
			del = append(del, name)
		}
	}
	return set, del, nil
}

// writeState queues the writes of one state change on p.
func (s *Store) writeState(ctx context.Context, p redis.Pipeliner, k keys, conv string, set []any, del []string, empty bool) {
	key := k.state(conv)
	if empty {
		p.Del(ctx, key)
		p.ZRem(ctx, k.convs(), conv)
		return
	}
	if len(del) > 0 {
		p.HDel(ctx, key, del...)
	}
	if len(set) > 0 {
		p.HSet(ctx, key, set...)
	}
	if s.opts.StateTTL > 0 {
		p.PExpire(ctx, key, s.opts.StateTTL)
	}
	p.ZAdd(ctx, k.convs(), redis.Z{Score: float64(time.Now().UnixMilli()), Member: conv})
}

// DeleteState removes the conversation's state.
func (s *Store) DeleteState(ctx context.Context, account, conv string) error {
	k, err := s.keys(account)
	if err != nil {
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, k.state(conv))
		p.ZRem(ctx, k.convs(), conv)
		return nil
	})
	return wrap("delete state", account+"/"+conv, err)
}

// Conversations lists the conversations written within the state TTL.
func (s *Store) Conversations(ctx context.Context, account string) ([]string, error) {
	k, err := s.keys(account)
	if err != nil {
		return nil, err
	}
	min := "-inf"
	if s.opts.StateTTL > 0 {
		min = strconv.FormatInt(time.Now().Add(-s.opts.StateTTL).UnixMilli(), 10)
	}
	convs, err := s.rdb.ZRangeByScore(ctx, k.convs(), &redis.ZRangeBy{Min: min, Max: "+inf"}).Result()
	if err != nil {
		return nil, wrap("list conversations", account, err)
	}
	return convs, nil
}

// Expired removes and returns, in one script, the conversations last
// written a state TTL or more before now. With expiry disabled it returns
// none.
func (s *Store) Expired(ctx context.Context, account string, now time.Time) ([]string, error) {
	k, err := s.keys(account)
	if err != nil {
		return nil, err
	}
	if s.opts.StateTTL < 0 {
		return nil, nil
	}
	cutoff := now.Add(-s.opts.StateTTL).UnixMilli()
	convs, err := expiredScript.Run(ctx, s.rdb, []string{k.convs()}, cutoff, k.statePrefix()).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap("expire conversations", account, err)
	}
	return convs, nil
}

// stateArgs appends a Completion's state change to args in the layout
// applyState reads: nset, set pairs, ndel, deleted fields.
func stateArgs(args []any, set store.Fields, del []string) ([]any, error) {
	args = append(args, len(set))
	for name, v := range set {
		if !json.Valid(v) {
			return nil, fmt.Errorf("field %q: invalid JSON", name)
		}
		args = append(args, name, []byte(v))
	}
	args = append(args, len(del))
	for _, name := range del {
		args = append(args, name)
	}
	return args, nil
}
