package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ucwabot/ucwabot/store"
)

// AcquireLease takes the account with SET PX when it is free, drawing a
// new fencing token from the server clock and the last token (see
// acquireScript), or extends it when owner already holds it.
// Every successful call starts a tenure: the next Pending replays the
// entries delivered before and not completed, also when owner took its
// own lease again (its previous tenure ended while the lease still stood,
// and nothing else would deliver what that tenure read).
func (s *Store) AcquireLease(ctx context.Context, account, owner string, ttl time.Duration) (store.Lease, error) {
	k, err := s.keys(account)
	if err != nil {
		return store.Lease{}, err
	}
	if owner == "" || ttl <= 0 {
		return store.Lease{}, fmt.Errorf("redisstore: acquire lease %s: empty owner or ttl", account)
	}
	now := time.Now()
	res, err := acquireScript.Run(ctx, s.rdb, []string{k.fence(), k.lease()}, owner, ms(ttl)).Slice()
	if err != nil {
		return store.Lease{}, wrap("acquire lease", account, err)
	}
	tok, _ := res[0].(int64)
	if tok == -1 {
		var holder string
		if len(res) > 2 {
			if l, ok := parseLease(account, res[2]); ok {
				holder = l.Owner
			}
		}
		return store.Lease{}, fmt.Errorf("redisstore: acquire lease %s: %w (holder %s)", account, store.ErrLeaseHeld, holder)
	}
	s.restartReplay(account)
	return store.Lease{Account: account, Owner: owner, Token: tok, Expires: now.Add(ttl)}, nil
}

// RenewLease extends l when it still holds the account; store.ErrFenced
// otherwise.
func (s *Store) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	k, err := s.keys(l.Account)
	if err != nil {
		return store.Lease{}, err
	}
	now := time.Now()
	n, err := renewScript.Run(ctx, s.rdb, []string{k.lease()}, leaseValue(l), ms(ttl)).Int64()
	if err != nil {
		return store.Lease{}, wrap("renew lease", l.Account, err)
	}
	if n != 1 {
		return store.Lease{}, wrap("renew lease", l.Account, store.ErrFenced)
	}
	l.Expires = now.Add(ttl)
	return l, nil
}

// ReleaseLease deletes the lease when l still holds it; otherwise it does
// nothing.
func (s *Store) ReleaseLease(ctx context.Context, l store.Lease) error {
	k, err := s.keys(l.Account)
	if err != nil {
		return err
	}
	return wrap("release lease", l.Account, releaseScript.Run(ctx, s.rdb, []string{k.lease()}, leaseValue(l)).Err())
}

// LeaseHolder returns the current lease; store.ErrNotFound when none.
func (s *Store) LeaseHolder(ctx context.Context, account string) (store.Lease, error) {
	k, err := s.keys(account)
	if err != nil {
		return store.Lease{}, err
	}
	now := time.Now()
	var get *redis.StringCmd
	var pttl *redis.DurationCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, k.lease())
		pttl = p.PTTL(ctx, k.lease())
		return nil
	})
	if err != nil {
		return store.Lease{}, wrap("lease holder", account, err)
	}
	l, ok := parseLease(account, get.Val())
	if !ok {
		return store.Lease{}, fmt.Errorf("redisstore: lease holder %s: malformed lease", account)
	}
	l.Expires = now.Add(pttl.Val())
	return l, nil
}

func leaseValue(l store.Lease) string {
	return strconv.FormatInt(l.Token, 10) + ":" + l.Owner
}

func parseLease(account string, v any) (store.Lease, bool) {
	str, _ := v.(string)
	tok, owner, ok := strings.Cut(str, ":")
	if !ok {
		return store.Lease{}, false
	}
	t, err := strconv.ParseInt(tok, 10, 64)
	if err != nil {
		return store.Lease{}, false
	}
	return store.Lease{Account: account, Owner: owner, Token: t}, true
}
