package boltstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ucwabot/ucwabot/store"
)

// leaseRecord is the lease as stored in meta/lease.
type leaseRecord struct {
	Owner   string `json:"owner"`
	Token   int64  `json:"token"`
	Expires int64  `json:"expires"` // unix nanoseconds
}

func readLease(tx *bolt.Tx, account string, now time.Time) (leaseRecord, bool, error) {
	meta := sub(tx, account, bucketMeta)
	if meta == nil {
		return leaseRecord{}, false, nil
	}
	v := meta.Get(keyLease)
	if v == nil {
		return leaseRecord{}, false, nil
	}
	var r leaseRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return leaseRecord{}, false, err
	}
	return r, r.Expires > now.UnixNano(), nil
}

func writeLease(tx *bolt.Tx, account string, r leaseRecord) error {
	meta, err := mkSub(tx, account, bucketMeta)
	if err != nil {
		return err
	}
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return meta.Put(keyLease, v)
}

func (r leaseRecord) lease(account string) store.Lease {
	return store.Lease{Account: account, Owner: r.Owner, Token: r.Token, Expires: time.Unix(0, r.Expires)}
}

// nextToken draws a fencing token: the larger of the last one plus one
// and the clock in milliseconds times 1000, as the Redis store does, so
// tokens keep growing when the file is lost or replaced by an older copy
// (the old holder's token is then refused) as long as the clock does not
// step back by more than the time between the two acquisitions; up to
// 1000 acquisitions a millisecond stay ordered.
func nextToken(last uint64, now time.Time) uint64 {
	return max(last+1, uint64(now.UnixMilli())*1000)
}

// errHeld carries the holder out of a transaction.
type errHeld struct{ owner string }

func (e errHeld) Error() string { return "held by " + e.owner }

// AcquireLease takes the account when it is free or expired, drawing the
// next fencing token, or extends it when owner already holds it. Every
// successful call starts a tenure: the next Pending starts from the
// oldest entry not completed, also when owner took its own lease again.
func (s *Store) AcquireLease(ctx context.Context, account, owner string, ttl time.Duration) (store.Lease, error) {
	if owner == "" || ttl <= 0 {
		return store.Lease{}, fmt.Errorf("boltstore: acquire lease %s: empty owner or ttl", account)
	}
	var (
		got  leaseRecord
		held error
	)
	err := s.batch("acquire lease", account, func(tx *bolt.Tx) error {
		held = nil
		now := time.Now()
		cur, ok, err := readLease(tx, account, now)
		if err != nil {
			return err
		}
		switch {
		case ok && cur.Owner != owner:
			held = errHeld{cur.Owner}
			return nil
		case ok:
			got = cur
		default:
			meta, err := mkSub(tx, account, bucketMeta)
			if err != nil {
				return err
			}
			tok := nextToken(getU64(meta.Get(keyFence)), now)
			if err := meta.Put(keyFence, u64(tok)); err != nil {
				return err
			}
			got = leaseRecord{Owner: owner, Token: int64(tok)}
		}
		got.Expires = now.Add(ttl).UnixNano()
		return writeLease(tx, account, got)
	})
	if err != nil {
		return store.Lease{}, err
	}
	var h errHeld
	if errors.As(held, &h) {
		return store.Lease{}, fmt.Errorf("boltstore: acquire lease %s: %w (holder %s)", account, store.ErrLeaseHeld, h.owner)
	}
	s.restartReplay(account)
	return got.lease(account), nil
}

// RenewLease extends l when it still holds the account (and has not
// expired); store.ErrFenced otherwise.
func (s *Store) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	var lost bool
	var got leaseRecord
	err := s.batch("renew lease", l.Account, func(tx *bolt.Tx) error {
		now := time.Now()
		cur, ok, err := readLease(tx, l.Account, now)
		if err != nil {
			return err
		}
		lost = !ok || cur.Owner != l.Owner || cur.Token != l.Token
		if lost {
			return nil
		}
		got = cur
		got.Expires = now.Add(ttl).UnixNano()
		return writeLease(tx, l.Account, got)
	})
	if err != nil {
		return store.Lease{}, err
	}
	if lost {
		return store.Lease{}, fmt.Errorf("boltstore: renew lease %s: %w", l.Account, store.ErrFenced)
	}
	return got.lease(l.Account), nil
}

// ReleaseLease deletes the lease when l still holds it; otherwise it does
// nothing.
func (s *Store) ReleaseLease(ctx context.Context, l store.Lease) error {
	return s.batch("release lease", l.Account, func(tx *bolt.Tx) error {
		cur, ok, err := readLease(tx, l.Account, time.Now())
		if err != nil || !ok || cur.Owner != l.Owner || cur.Token != l.Token {
			return err
		}
		return sub(tx, l.Account, bucketMeta).Delete(keyLease)
	})
}

// LeaseHolder returns the current lease; store.ErrNotFound when none.
func (s *Store) LeaseHolder(ctx context.Context, account string) (store.Lease, error) {
	var l store.Lease
	err := s.view("lease holder", account, func(tx *bolt.Tx) error {
		cur, ok, err := readLease(tx, account, time.Now())
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		l = cur.lease(account)
		return nil
	})
	return l, err
}
