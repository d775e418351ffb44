package redisstore

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ucwabot/ucwabot/store"
)

// SetTimer stores the timer (due time in the sorted set, the record in
// the hash) after checking the fence.
func (s *Store) SetTimer(ctx context.Context, account string, fence int64, t store.Timer) error {
	b, err := json.Marshal(t)
	if err != nil {
		return wrap("set timer", account, err)
	}
	return s.timerScript(ctx, "set timer", setTimerScript, account, fence, t.ID, t.Due.UnixMilli(), b)
}

// CancelTimer removes the timer after checking the fence.
func (s *Store) CancelTimer(ctx context.Context, account string, fence int64, id string) error {
	return s.timerScript(ctx, "cancel timer", dropTimerScript, account, fence, id, "")
}

// CancelTimers removes the timers whose ID starts with prefix.
func (s *Store) CancelTimers(ctx context.Context, account string, fence int64, prefix string) error {
	return s.timerScript(ctx, "cancel timers", cancelTimersScript, account, fence, prefix)
}

// DropTimer removes the timer when it is still due at due.
func (s *Store) DropTimer(ctx context.Context, account string, fence int64, id string, due time.Time) error {
	return s.timerScript(ctx, "drop timer", dropTimerScript, account, fence, id, strconv.FormatInt(due.UnixMilli(), 10))
}

func (s *Store) timerScript(ctx context.Context, op string, script *redis.Script, account string, fence int64, args ...any) error {
	k, err := s.keys(account)
	if err != nil {
		return err
	}
	n, err := script.Run(ctx, s.rdb, []string{k.fence(), k.timers(), k.timerData()}, append([]any{fence}, args...)...).Int64()
	if err != nil {
		return wrap(op, account, err)
	}
	if n == -1 {
		return wrap(op, account, store.ErrFenced)
	}
	return nil
}

// DueTimers reads the timers due at now, earliest first.
func (s *Store) DueTimers(ctx context.Context, account string, now time.Time, n int) ([]store.Timer, error) {
	k, err := s.keys(account)
	if err != nil {
		return nil, err
	}
	ids, err := s.rdb.ZRangeByScore(ctx, k.timers(), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(n)}).Result()
	if err != nil || len(ids) == 0 {
		return nil, wrap("due timers", account, err)
	}
	recs, err := s.rdb.HMGet(ctx, k.timerData(), ids...).Result()
	if err != nil {
		return nil, wrap("due timers", account, err)
	}
	out := make([]store.Timer, 0, len(recs))
	for _, r := range recs {
		str, ok := r.(string)
		if !ok {
			continue // dropped meanwhile
		}
		var t store.Timer
		if err := json.Unmarshal([]byte(str), &t); err != nil {
			return nil, wrap("decode timer", account, err)
		}
		out = append(out, t)
	}
	return out, nil
}

var _ store.Timers = (*Store)(nil)
