package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ucwabot/ucwabot/store"
)

// Append adds the entries to the account's stream in one script (one round
// trip), skipping those whose EventID is done or already queued; skipped
// entries get an empty ID.
func (s *Store) Append(ctx context.Context, account string, fence int64, entries []store.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	k, err := s.keys(account)
	if err != nil {
		return err
	}
	ks := make([]string, 0, 3+len(entries))
	ks = append(ks, k.fence(), k.inbox(), k.queued())
	args := make([]any, 0, 2+3*len(entries))
	args = append(args, fence, s.opts.Group)
	for _, e := range entries {
		ks = append(ks, k.done(e.EventID))
		args = append(args, e.EventID, e.Conversation, e.Payload)
	}
	res, err := appendScript.Run(ctx, s.rdb, ks, args...).Result()
	if err != nil {
		return wrap("append", account, err)
	}
	if n, ok := res.(int64); ok && n == -1 {
		return wrap("append", account, store.ErrFenced)
	}
	ids, ok := res.([]any)
	if !ok || len(ids) != len(entries) {
		return fmt.Errorf("redisstore: append %s: unexpected reply %T", account, res)
	}
	for i := range entries {
		entries[i].ID, _ = ids[i].(string)
	}
	return nil
}

// Pending returns up to n entries of the account's stream not yet
// completed. The first call for an account on this Store (and the first
// after a fresh AcquireLease) claims, with XAUTOCLAIM, the entries
// delivered before and never completed (by this or a dead instance) and
// returns those first; afterwards it reads new entries with XREADGROUP,
// blocking up to wait. A cancelled ctx ends the wait within half a second.
func (s *Store) Pending(ctx context.Context, account string, n int, wait time.Duration) ([]store.Entry, error) {
	k, err := s.keys(account)
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		n = 1
	}
	if err := s.ensureGroup(ctx, account, k); err != nil {
		return nil, err
	}
	for {
		cursor, replaying := s.replayCursor(account)
		if !replaying {
			break
		}
		msgs, next, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: k.inbox(), Group: s.opts.Group, Consumer: s.opts.Consumer,
			Start: cursor, Count: int64(n),
		}).Result()
		if err != nil {
			s.forgetGroup(account, err)
			return nil, wrap("replay pending", account, err)
		}
		s.setReplayCursor(account, next)
		if len(msgs) > 0 {
			return decode(msgs), nil
		}
	}
	deadline := time.Now().Add(wait)
	for {
		// Block in slices so that a cancelled ctx is noticed within
		// blockSlice: go-redis does not interrupt a blocking read.
		block := time.Duration(-1)
		if left := time.Until(deadline); left > 0 {
			block = max(min(left, blockSlice), time.Millisecond)
		}
		streams, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: s.opts.Group, Consumer: s.opts.Consumer,
			Streams: []string{k.inbox(), ">"}, Count: int64(n), Block: block,
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			s.forgetGroup(account, err)
			return nil, wrap("read pending", account, err)
		}
		var out []store.Entry
		for _, st := range streams {
			out = append(out, decode(st.Messages)...)
		}
		if len(out) > 0 {
			return out, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, wrap("read pending", account, err)
		}
		if block < 0 || !time.Now().Before(deadline) {
			return nil, nil
		}
	}
}

// blockSlice is the longest single XREADGROUP BLOCK.
const blockSlice = 500 * time.Millisecond

func decode(msgs []redis.XMessage) []store.Entry {
	out := make([]store.Entry, 0, len(msgs))
	for _, m := range msgs {
		e := store.Entry{ID: m.ID}
		e.EventID, _ = m.Values["e"].(string)
		e.Conversation, _ = m.Values["c"].(string)
		if p, ok := m.Values["p"].(string); ok {
			e.Payload = []byte(p)
		}
		out = append(out, e)
	}
	return out
}

// ensureGroup creates the account's stream and consumer group once per
// Store.
func (s *Store) ensureGroup(ctx context.Context, account string, k keys) error {
	s.mu.Lock()
	ok := s.groups[account]
	s.mu.Unlock()
	if ok {
		return nil
	}
	err := s.rdb.XGroupCreateMkStream(ctx, k.inbox(), s.opts.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return wrap("create consumer group", account, err)
	}
	s.mu.Lock()
	s.groups[account] = true
	s.mu.Unlock()
	return nil
}

// forgetGroup makes the next call recreate the group when Redis lost it
// (a restarted server without persistence).
func (s *Store) forgetGroup(account string, err error) {
	if strings.HasPrefix(err.Error(), "NOGROUP") {
		s.mu.Lock()
		delete(s.groups, account)
		s.mu.Unlock()
	}
}

// replayCursor returns where the account's replay stands; false once it
// is over.
func (s *Store) replayCursor(account string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.replays[account]
	if !ok {
		return "0-0", true
	}
	return c, c != ""
}

func (s *Store) setReplayCursor(account, next string) {
	if next == "0-0" {
		next = ""
	}
	s.mu.Lock()
	s.replays[account] = next
	s.mu.Unlock()
}

// restartReplay makes the next Pending replay the account's delivered
// entries again (after a fresh lease).
func (s *Store) restartReplay(account string) {
	s.mu.Lock()
	delete(s.replays, account)
	s.mu.Unlock()
}

// Complete acknowledges and deletes the stream entry, sets the done mark
// and applies the state change in one script, after checking the fence.
// Completing an event already done writes nothing and succeeds.
func (s *Store) Complete(ctx context.Context, account string, c store.Completion) error {
	k, err := s.keys(account)
	if err != nil {
		return err
	}
	ttl := c.DoneTTL
	if ttl <= 0 {
		ttl = s.opts.DoneTTL
	}
	conv := c.Entry.Conversation
	if conv == "" && (len(c.Set) > 0 || len(c.Delete) > 0) {
		return fmt.Errorf("redisstore: complete %s: state change for an entry without conversation", account)
	}
	args := make([]any, 0, 9+2*len(c.Set)+len(c.Delete))
	args = append(args, c.Fence, s.opts.Group, c.Entry.ID, c.Entry.EventID,
		ms(ttl), ms(s.opts.StateTTL), time.Now().UnixMilli(), conv)
	args, err = stateArgs(args, c.Set, c.Delete)
	if err != nil {
		return fmt.Errorf("redisstore: complete %s: %w", account, err)
	}
	ks := []string{k.fence(), k.inbox(), k.queued(), k.done(c.Entry.EventID), k.state(conv), k.convs()}
	n, err := completeScript.Run(ctx, s.rdb, ks, args...).Int64()
	if err != nil {
		return wrap("complete", account, err)
	}
	if n == -1 {
		return wrap("complete", account, store.ErrFenced)
	}
	return nil
}

// Done reports whether the event's done mark exists.
func (s *Store) Done(ctx context.Context, account, eventID string) (bool, error) {
	k, err := s.keys(account)
	if err != nil {
		return false, err
	}
	n, err := s.rdb.Exists(ctx, k.done(eventID)).Result()
	if err != nil {
		return false, wrap("done", account, err)
	}
	return n == 1, nil
}

// Len returns the stream's length: completed entries are deleted from it.
func (s *Store) Len(ctx context.Context, account string) (int64, error) {
	k, err := s.keys(account)
	if err != nil {
		return 0, err
	}
	n, err := s.rdb.XLen(ctx, k.inbox()).Result()
	if err != nil {
		return 0, wrap("len", account, err)
	}
	return n, nil
}
