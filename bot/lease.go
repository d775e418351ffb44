package bot

import (
	"context"
	"errors"
	"time"

	"github.com/ucwabot/ucwabot/store"
)

// acquire waits until this instance holds the account's lease. Another
// owner's lease is retried every third of the TTL, so a dead holder's
// account is taken over within the TTL.
func (a *account) acquire(ctx context.Context) (store.Lease, error) {
	b := a.e.newBackoff()
	logged := false
	for {
		l, err := a.e.store.AcquireLease(ctx, a.addr, a.e.cfg.InstanceID, a.e.cfg.LeaseTTL)
		if err == nil {
			return l, nil
		}
		if ctx.Err() != nil {
			return store.Lease{}, ctx.Err()
		}
		d := jitter(a.e.cfg.LeaseTTL/3, 0.2)
		if errors.Is(err, store.ErrLeaseHeld) {
			if !logged {
				a.log.Info("lease held by another instance; standing by")
				logged = true
			}
		} else {
			a.log.WithError(err).Warn("acquire lease")
			d = b.NextBackOff()
		}
		if !sleep(ctx, d) {
			return store.Lease{}, ctx.Err()
		}
	}
}

// renew extends the held lease every third of its TTL until ctx ends. It
// calls lost when the store says the lease is gone or when no renewal
// succeeded within the TTL (the lease may have passed to another owner).
func (a *account) renew(ctx context.Context, lost func()) {
	ttl := a.e.cfg.LeaseTTL
	last := time.Now()
	for sleep(ctx, ttl/3) {
		a.mu.Lock()
		l := a.lease
		a.mu.Unlock()
		nl, err := a.e.store.RenewLease(ctx, l, ttl)
		if err == nil {
			a.mu.Lock()
			a.lease = nl
			a.mu.Unlock()
			last = time.Now()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, store.ErrFenced) || errors.Is(err, store.ErrLeaseHeld) || errors.Is(err, store.ErrNotFound) || time.Since(last) >= ttl {
			a.log.WithError(err).Error("lease renewal failed")
			lost()
			return
		}
		a.log.WithError(err).Warn("lease renewal failed; retrying")
	}
}

// keepLease renews the lease until ctx ends (an account stopped after
// PGetReplaced keeps it so that no other instance starts fighting), then
// releases it.
func (a *account) keepLease(ctx context.Context) {
	a.renew(ctx, func() {})
	a.mu.Lock()
	l := a.lease
	a.mu.Unlock()
	rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = a.e.store.ReleaseLease(rctx, l)
}
