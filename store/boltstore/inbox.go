package boltstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ucwabot/ucwabot/store"
)

// record is an inbox entry as stored.
type record struct {
	EventID      string `json:"e,omitempty"`
	Conversation string `json:"c,omitempty"`
	Payload      []byte `json:"p,omitempty"`
}

// formatID and parseID convert an inbox sequence to the Entry.ID form:
// fixed-width decimal, so IDs sort like the sequence.
func formatID(seq uint64) string { return fmt.Sprintf("%020d", seq) }

func parseID(id string) (uint64, error) {
	seq, err := strconv.ParseUint(id, 10, 64)
	if err != nil || seq == 0 {
		return 0, fmt.Errorf("invalid entry id %q", id)
	}
	return seq, nil
}

// checkFence returns store.ErrFenced when the account's token is newer
// than fence.
func checkFence(tx *bolt.Tx, account string, fence int64) error {
	meta := sub(tx, account, bucketMeta)
	if meta == nil {
		return nil
	}
	if cur := int64(getU64(meta.Get(keyFence))); fence < cur {
		return store.ErrFenced
	}
	return nil
}

// Append stores the entries in one batched transaction, skipping those
// whose EventID is done or queued; skipped entries get an empty ID.
func (s *Store) Append(ctx context.Context, account string, fence int64, entries []store.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	_, err := s.appendBatch("append", account, fence, store.Batch{Entries: entries})
	return err
}

// AppendBatch writes a poll batch in one batched transaction: the entries
// as Append does, the "sent" marks and the session record, after checking
// the fence. It returns the inbox length after the write.
func (s *Store) AppendBatch(ctx context.Context, account string, fence int64, b store.Batch) (int64, error) {
	return s.appendBatch("append batch", account, fence, b)
}

func (s *Store) appendBatch(op, account string, fence int64, b store.Batch) (int64, error) {
	var sess []byte
	if b.Session != nil {
		var err error
		if sess, err = json.Marshal(b.Session); err != nil {
			return 0, fmt.Errorf("boltstore: %s %s: %w", op, account, err)
		}
	}
	ttl := b.MarkTTL
	if ttl <= 0 {
		ttl = s.opts.DoneTTL
	}
	entries := b.Entries
	var fenced error
	var added int
	err := s.batch(op, account, func(tx *bolt.Tx) error {
		fenced, added = nil, 0
		for i := range entries {
			entries[i].ID = ""
		}
		if err := checkFence(tx, account, fence); err != nil {
			fenced = err
			return nil
		}
		inbox, err := mkSub(tx, account, bucketInbox)
		if err != nil {
			return err
		}
		queued, err := mkSub(tx, account, bucketQueued)
		if err != nil {
			return err
		}
		s.initReplayBound(account, inbox.Sequence())
		done := sub(tx, account, bucketDone)
		now := time.Now()
		for i, e := range entries {
			eid := []byte(e.EventID)
			if e.EventID != "" && (queued.Get(eid) != nil || (done != nil && live(done.Get(eid), now))) {
				continue
			}
			seq, err := inbox.NextSequence()
			if err != nil {
				return err
			}
			v, err := json.Marshal(record{EventID: e.EventID, Conversation: e.Conversation, Payload: e.Payload})
			if err != nil {
				return err
			}
			if err := inbox.Put(u64(seq), v); err != nil {
				return err
			}
			if e.EventID != "" {
				if err := queued.Put(eid, u64(seq)); err != nil {
					return err
				}
			}
			entries[i].ID = formatID(seq)
			added++
		}
		if len(b.Sent) > 0 {
			marks, err := mkSub(tx, account, bucketMarks)
			if err != nil {
				return err
			}
			exp := nanos(now.Add(ttl))
			for _, op := range b.Sent {
				if err := marks.Put([]byte("sent:"+op), exp); err != nil {
					return err
				}
			}
		}
		if sess != nil {
			meta, err := mkSub(tx, account, bucketMeta)
			if err != nil {
				return err
			}
			if err := meta.Put(keySession, sess); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if fenced != nil {
		return 0, fmt.Errorf("boltstore: %s %s: %w", op, account, fenced)
	}
	if added > 0 {
		s.notify()
	}
	return s.Len(context.Background(), account)
}

// Pending returns up to n entries after the last one this Store delivered
// for the account. A newly opened Store (or one that just took a fresh
// lease) starts from the oldest entry not completed, so entries delivered
// before and never completed come first. With none, it waits up to wait
// for an Append.
func (s *Store) Pending(ctx context.Context, account string, n int, wait time.Duration) ([]store.Entry, error) {
	if n <= 0 {
		n = 1
	}
	var deadline <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		deadline = t.C
	}
	upTo, err := s.replayBound(account)
	if err != nil {
		return nil, err
	}
	for {
		wake := s.wakeChan()
		es, last, err := s.readAfter(account, s.cursor(account), n, upTo)
		if err != nil {
			return nil, err
		}
		if len(es) > 0 {
			s.setCursor(account, last)
			return es, nil
		}
		if deadline == nil {
			return nil, nil
		}
		select {
		case <-wake:
		case <-deadline:
			return nil, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("boltstore: pending %s: %w", account, ctx.Err())
		}
	}
}

// replayBound returns the last inbox sequence that existed when this
// Store began delivering the account's entries (opened, or a lease taken):
// entries up to it may have been begun by a previous owner and are
// delivered as Redelivered.
func (s *Store) replayBound(account string) (uint64, error) {
	s.mu.Lock()
	upTo, ok := s.replayTo[account]
	s.mu.Unlock()
	if ok {
		return upTo, nil
	}
	err := s.view("pending", account, func(tx *bolt.Tx) error {
		if inbox := sub(tx, account, bucketInbox); inbox != nil {
			upTo = inbox.Sequence() // the last sequence handed out
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return s.initReplayBound(account, upTo), nil
}

// initReplayBound sets the account's replay bound unless it is set, and
// returns it.
func (s *Store) initReplayBound(account string, upTo uint64) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.replayTo[account]; ok {
		return v
	}
	s.replayTo[account] = upTo
	return upTo
}

func (s *Store) readAfter(account string, after uint64, n int, upTo uint64) ([]store.Entry, uint64, error) {
	var es []store.Entry
	last := after
	err := s.view("pending", account, func(tx *bolt.Tx) error {
		inbox := sub(tx, account, bucketInbox)
		if inbox == nil {
			return nil
		}
		c := inbox.Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && len(es) < n; k, v = c.Next() {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("entry %d: %w", getU64(k), err)
			}
			last = getU64(k)
			es = append(es, store.Entry{ID: formatID(last), EventID: r.EventID, Conversation: r.Conversation, Payload: r.Payload, Redelivered: last <= upTo})
		}
		return nil
	})
	return es, last, err
}

func (s *Store) cursor(account string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursors[account]
}

func (s *Store) setCursor(account string, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq > s.cursors[account] {
		s.cursors[account] = seq
	}
}

// restartReplay makes the next Pending start again from the oldest entry
// not completed (after a lease was taken).
func (s *Store) restartReplay(account string) {
	s.mu.Lock()
	delete(s.cursors, account)
	delete(s.replayTo, account)
	s.mu.Unlock()
}

// Complete deletes the entry, sets the done mark and applies the state
// change in one batched transaction, after checking the fence. Completing
// an event already done writes nothing and succeeds.
func (s *Store) Complete(ctx context.Context, account string, c store.Completion) error {
	return s.complete("complete", account, []store.Completion{c})
}

// CompleteBatch applies a group of completions in one batched
// transaction: each as Complete does, in order, after one check of the
// fence.
func (s *Store) CompleteBatch(ctx context.Context, account string, cs []store.Completion) error {
	if len(cs) == 0 {
		return nil
	}
	return s.complete("complete batch", account, cs)
}

func (s *Store) complete(op, account string, cs []store.Completion) error {
	seqs := make([]uint64, len(cs))
	fence := cs[0].Fence
	for i, c := range cs {
		seq, err := parseID(c.Entry.ID)
		if err != nil {
			return fmt.Errorf("boltstore: %s %s: %w", op, account, err)
		}
		seqs[i] = seq
		if c.Fence != fence {
			return fmt.Errorf("boltstore: %s %s: completions carry different fences", op, account)
		}
		if c.Entry.Conversation == "" && (len(c.Set) > 0 || len(c.Delete) > 0) {
			return fmt.Errorf("boltstore: %s %s: state change for an entry without conversation", op, account)
		}
		for name, v := range c.Set {
			if !json.Valid(v) {
				return fmt.Errorf("boltstore: %s %s: field %q: invalid JSON", op, account, name)
			}
		}
	}
	var fenced error
	err := s.batch(op, account, func(tx *bolt.Tx) error {
		fenced = nil
		if err := checkFence(tx, account, fence); err != nil {
			fenced = err
			return nil
		}
		now := time.Now()
		for i, c := range cs {
			if err := s.completeTx(tx, account, seqs[i], c, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if fenced != nil {
		return fmt.Errorf("boltstore: %s %s: %w", op, account, fenced)
	}
	return nil
}

// completeTx removes one entry and, unless its event is done already,
// marks the event done and applies the state change.
func (s *Store) completeTx(tx *bolt.Tx, account string, seq uint64, c store.Completion, now time.Time) error {
	ttl := c.DoneTTL
	if ttl <= 0 {
		ttl = s.opts.DoneTTL
	}
	eid := []byte(c.Entry.EventID)
	done, err := mkSub(tx, account, bucketDone)
	if err != nil {
		return err
	}
	if inbox := sub(tx, account, bucketInbox); inbox != nil {
		if err := inbox.Delete(u64(seq)); err != nil {
			return err
		}
	}
	if len(eid) > 0 && live(done.Get(eid), now) {
		return nil
	}
	if len(eid) > 0 {
		if q := sub(tx, account, bucketQueued); q != nil {
			if err := q.Delete(eid); err != nil {
				return err
			}
		}
		if err := done.Put(eid, nanos(now.Add(ttl))); err != nil {
			return err
		}
	}
	if c.Entry.Conversation == "" {
		return nil
	}
	if c.Forget {
		return s.forget(tx, account, c.Entry.Conversation)
	}
	return s.applyState(tx, account, c.Entry.Conversation, c.Set, c.Delete, now)
}

// Done reports whether the event's done mark exists and has not expired.
func (s *Store) Done(ctx context.Context, account, eventID string) (bool, error) {
	var ok bool
	err := s.view("done", account, func(tx *bolt.Tx) error {
		if b := sub(tx, account, bucketDone); b != nil {
			ok = live(b.Get([]byte(eventID)), time.Now())
		}
		return nil
	})
	return ok, err
}

// Len returns the number of entries not yet completed.
func (s *Store) Len(ctx context.Context, account string) (int64, error) {
	var n int64
	err := s.view("len", account, func(tx *bolt.Tx) error {
		if b := sub(tx, account, bucketInbox); b != nil {
			n = int64(b.Stats().KeyN)
		}
		return nil
	})
	return n, err
}
