package bot

import (
	"context"
	"errors"
	"time"

	"github.com/ucwabot/ucwabot/store"
)

// acquire waits until this instance holds the account's lease and returns
// it with the time its request was sent (the lease lasts LeaseTTL from
// then by this instance's clock). Another owner's lease is retried every
// third of the TTL, so a dead holder's account is taken over within the
// TTL; meanwhile the account stands by, ready (the process can serve).
func (a *account) acquire(ctx context.Context) (store.Lease, time.Time, error) {
	b := a.e.newBackoff()
	logged, marked := false, false
	for {
		sent := time.Now()
		l, err := a.e.store.AcquireLease(ctx, a.addr, a.e.cfg.InstanceID, a.e.cfg.LeaseTTL)
		if err == nil {
			if marked {
				// This instance's own standby mark must not make its
				// stop take it for a standby. Another standby sets the
				// mark again within a third of the TTL.
				if err := a.e.store.Unmark(ctx, a.addr, standbyKey); err != nil {
					a.log.WithError(err).Debug("standby mark")
				}
			}
			return l, sent, nil
		}
		if ctx.Err() != nil {
			return store.Lease{}, time.Time{}, ctx.Err()
		}
		d := jitter(a.e.cfg.LeaseTTL/3, 0.2)
		if errors.Is(err, store.ErrLeaseHeld) {
			holder := "another instance"
			if h, herr := a.e.store.LeaseHolder(ctx, a.addr); herr == nil && h.Owner != "" {
				holder = h.Owner
			}
			a.mu.Lock()
			a.seenHolder = holder
			a.mu.Unlock()
			a.markStandby(ctx)
			marked = true
			if !logged {
				a.log.WithField("holder", holder).Info("lease held by another instance; standing by")
				logged = true
			}
		} else {
			a.mu.Lock()
			a.seenHolder = ""
			a.mu.Unlock()
			a.log.WithError(err).Warn("acquire lease")
			d = b.NextBackOff()
		}
		if !sleep(ctx, d) {
			return store.Lease{}, time.Time{}, ctx.Err()
		}
	}
}

// standbyKey is the mark that says an instance stands by for the
// account: each standby sets it anew, for LeaseTTL, at every attempt on
// the lease (every third of the TTL), so it exists as long as one does.
const standbyKey = "standby"

// markStandby says that this instance stands by for the account.
func (a *account) markStandby(ctx context.Context) {
	st := a.e.store
	if err := st.Unmark(ctx, a.addr, standbyKey); err == nil {
		_, err = st.Mark(ctx, a.addr, standbyKey, a.e.cfg.LeaseTTL)
		if err != nil {
			a.log.WithError(err).Debug("standby mark")
		}
	}
}

// standbyPresent reports whether another instance stands by for the
// account (its standby mark is set). Asking sets a mark that lasts a
// millisecond when none is.
func (a *account) standbyPresent(ctx context.Context) bool {
	first, err := a.e.store.Mark(ctx, a.addr, standbyKey, time.Millisecond)
	return err == nil && !first
}

// renew extends the held lease every third of its TTL until ctx ends. It
// calls lost when the store says the lease is gone, and at the moment the
// lease expires by this instance's clock without a renewal (the store did
// not answer in time, or the process was paused): from then on the lease
// may belong to another instance. Each renewal is bounded by the lease's
// expiry, so a store that hangs does not hold it past that.
func (a *account) renew(ctx context.Context, lost func()) {
	ttl := a.e.cfg.LeaseTTL
	a.mu.Lock()
	until := a.leaseUntil
	a.mu.Unlock()
	expiry := time.AfterFunc(time.Until(until), func() {
		if ctx.Err() == nil {
			a.log.WithField("cause", "lease_expired").Error("lease expired without a renewal")
			lost()
		}
	})
	defer expiry.Stop()
	for sleep(ctx, ttl/3) {
		a.mu.Lock()
		l, until := a.lease, a.leaseUntil
		a.mu.Unlock()
		sent := time.Now()
		rctx, cancel := context.WithDeadline(ctx, until)
		nl, err := a.e.store.RenewLease(rctx, l, ttl)
		cancel()
		if err == nil {
			a.mu.Lock()
			a.lease, a.leaseUntil = nl, sent.Add(ttl)
			a.mu.Unlock()
			expiry.Reset(time.Until(sent.Add(ttl)))
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, store.ErrFenced) || errors.Is(err, store.ErrLeaseHeld) || errors.Is(err, store.ErrNotFound) || !time.Now().Before(until) {
			a.log.WithError(err).Error("lease renewal failed")
			lost()
			return
		}
		a.log.WithError(err).Warn("lease renewal failed; retrying")
	}
}

// holdLease renews the lease for d or until ctx ends (an account stopped
// after PGetReplaced keeps it during the cool-down, so that no other
// instance starts fighting), then releases it.
func (a *account) holdLease(ctx context.Context, d time.Duration) {
	hctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	a.renew(hctx, cancel)
	a.mu.Lock()
	l := a.lease
	a.mu.Unlock()
	rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer rcancel()
	if err := a.e.store.ReleaseLease(rctx, l); err != nil {
		a.log.WithError(err).Warn("release lease")
	}
}
