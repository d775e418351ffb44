package redisstore

import (
	"context"
	"encoding/json"
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
	_, err := s.appendBatch(ctx, "append", account, fence, store.Batch{Entries: entries})
	return err
}

// AppendBatch writes a poll batch in one script: the entries as Append
// does, the "sent" marks and the session record, after checking the
// fence. It returns the stream's length after the write.
func (s *Store) AppendBatch(ctx context.Context, account string, fence int64, b store.Batch) (int64, error) {
	return s.appendBatch(ctx, "append batch", account, fence, b)
}

func (s *Store) appendBatch(ctx context.Context, op, account string, fence int64, b store.Batch) (int64, error) {
	k, err := s.keys(account)
	if err != nil {
		return 0, err
	}
	var sess []byte
	if b.Session != nil {
		if sess, err = json.Marshal(b.Session); err != nil {
			return 0, wrap(op, account, err)
		}
	}
	ttl := b.MarkTTL
	if ttl <= 0 {
		ttl = s.opts.DoneTTL
	}
	ks := make([]string, 0, 4+len(b.Entries)+len(b.Sent))
	ks = append(ks, k.fence(), k.inbox(), k.queued(), k.session())
	args := make([]any, 0, 6+3*len(b.Entries))
	args = append(args, fence, s.opts.Group, len(b.Entries), len(b.Sent), ms(ttl), sess)
	for _, e := range b.Entries {
		ks = append(ks, k.done(e.EventID))
		args = append(args, e.EventID, e.Conversation, e.Payload)
	}
	for _, op := range b.Sent {
		ks = append(ks, k.mark("sent:"+op))
	}
	res, err := appendScript.Run(ctx, s.rdb, ks, args...).Result()
	if err != nil {
		return 0, wrap(op, account, err)
	}
	if n, ok := res.(int64); ok && n == -1 {
		return 0, wrap(op, account, store.ErrFenced)
	}
	out, ok := res.([]any)
	if !ok || len(out) != len(b.Entries)+1 {
		return 0, fmt.Errorf("redisstore: %s %s: unexpected reply %T", op, account, res)
	}
	for i := range b.Entries {
		b.Entries[i].ID, _ = out[i].(string)
	}
	n, _ := out[len(b.Entries)].(int64)
	return n, nil
}

// Pending returns up to n entries of the account's stream not yet
// completed. The first call for an account on this Store (and the first
// after every successful AcquireLease) claims, with XAUTOCLAIM, the entries
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
			out := decode(msgs)
			for i := range out {
				out[i].Redelivered = true
			}
			return out, nil
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
// entries again (after a lease was taken).
func (s *Store) restartReplay(account string) {
	s.mu.Lock()
	delete(s.replays, account)
	s.mu.Unlock()
}

// Complete acknowledges and deletes the stream entry, sets the done mark
// and applies the state change in one script, after checking the fence.
// Completing an event already done writes nothing and succeeds.
func (s *Store) Complete(ctx context.Context, account string, c store.Completion) error {
	return s.complete(ctx, "complete", account, []store.Completion{c})
}

// CompleteBatch applies a group of completions in one script: each as
// Complete does, in order, after one check of the fence.
func (s *Store) CompleteBatch(ctx context.Context, account string, cs []store.Completion) error {
	if len(cs) == 0 {
		return nil
	}
	return s.complete(ctx, "complete batch", account, cs)
}

func (s *Store) complete(ctx context.Context, op, account string, cs []store.Completion) error {
	k, err := s.keys(account)
	if err != nil {
		return err
	}
	fence, ttl := cs[0].Fence, cs[0].DoneTTL
	if ttl <= 0 {
		ttl = s.opts.DoneTTL
	}
	ks := make([]string, 0, 4+2*len(cs))
	ks = append(ks, k.fence(), k.inbox(), k.queued(), k.convs())
	args := make([]any, 0, 5+6*len(cs))
	args = append(args, fence, s.opts.Group, ms(ttl), ms(s.opts.StateTTL), time.Now().UnixMilli())
	for _, c := range cs {
		if c.Fence != fence {
			return fmt.Errorf("redisstore: %s %s: completions carry different fences", op, account)
		}
		conv := c.Entry.Conversation
		if conv == "" && (len(c.Set) > 0 || len(c.Delete) > 0) {
			return fmt.Errorf("redisstore: %s %s: state change for an entry without conversation", op, account)
		}
		ks = append(ks, k.done(c.Entry.EventID), k.state(conv))
		forget := 0
		if c.Forget {
			forget = 1
		}
		args = append(args, c.Entry.ID, c.Entry.EventID, conv, forget)
		if args, err = stateArgs(args, c.Set, c.Delete); err != nil {
			return fmt.Errorf("redisstore: %s %s: %w", op, account, err)
		}
	}
	n, err := completeScript.Run(ctx, s.rdb, ks, args...).Int64()
	if err != nil {
		return wrap(op, account, err)
	}
	if n == -1 {
		return wrap(op, account, store.ErrFenced)
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
