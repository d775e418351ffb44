package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The store health probe: every storeProbeEvery the account pings the
// store with storeProbeTimeout; readiness fails when the last answer is
// older than storeProbeStale, so an account turns not ready within 2 s of
// the store ceasing to answer (a refused connection at once, a hung one by
// the stale limit) and ready again at the first answer.
const (
	storeProbeEvery   = 250 * time.Millisecond
	storeProbeTimeout = time.Second
	storeProbeStale   = 1500 * time.Millisecond
)

// errStoreSilent is readiness failing because the store does not answer.
var errStoreSilent = errors.New("store not answering")

// probeStore pings the store until ctx ends and records the outcome.
func (a *account) probeStore(ctx context.Context) {
	for {
		pctx, cancel := context.WithTimeout(ctx, storeProbeTimeout)
		err := a.e.store.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		a.mu.Lock()
		if err == nil {
			a.storeOK, a.storeErr = time.Now(), nil
		} else {
			a.storeErr = err
		}
		a.mu.Unlock()
		if !sleep(ctx, storeProbeEvery) {
			return
		}
	}
}

// storeHealth says why the store probe finds the store unhealthy, or nil.
// Call with a.mu held.
func (a *account) storeHealth() error {
	switch {
	case a.storeErr != nil:
		return fmt.Errorf("%w: %w", errStoreSilent, a.storeErr)
	case a.storeOK.IsZero():
		return nil // no probe has ended yet: Engine.Ready's own ping judges
	case time.Since(a.storeOK) > storeProbeStale:
		return fmt.Errorf("%w since %s", errStoreSilent, a.storeOK.Format(time.RFC3339Nano))
	}
	return nil
}

// ready says why the account is not ready, or nil. Ready means "this
// process can serve the account": the lease holder when its event channel
// is polled; a standby instance (another instance holds the lease) as
// well, since it takes over when the holder dies. Status's Owner and the
// ucwabot_lease_holder metric say which instance drives the account.
func (a *account) ready() error {
	grace := a.e.cfg.PollTimeout + 90*time.Second
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state != stateIdle && a.state != stateStopped {
		if err := a.storeHealth(); err != nil {
			return err
		}
	}
	switch {
	case a.state == stateReplaced:
		return errReplaced
	case a.blocked != "":
		return fmt.Errorf("%s: %s", a.state, a.blocked)
	case !a.owner && a.state == stateStandby && a.seenHolder != "":
		return nil // standing by while another instance drives the account
	case !a.owner:
		return fmt.Errorf("does not hold the lease (%s)", a.state)
	case a.state != stateRunning:
		return fmt.Errorf("%s", a.state)
	case time.Since(a.lastPoll) > grace && (a.pgetSent.IsZero() || time.Since(a.pgetSent) > grace):
		// An outstanding P-GET younger than the grace is healthy: the
		// server holds it up to PollTimeout when it has no events.
		if a.lastPoll.IsZero() {
			return fmt.Errorf("no event-channel answer in this lease tenure")
		}
		return fmt.Errorf("no event-channel answer since %s", a.lastPoll.Format(time.RFC3339))
	}
	return nil
}

func (a *account) status() AccountStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	subs := 0
	if a.sub != nil {
		subs = len(a.subURIs)
	}
	return AccountStatus{
		Address:       a.addr,
		State:         a.state,
		Owner:         a.owner,
		LastPoll:      a.lastPoll,
		LastActivity:  a.lastActivity,
		Presence:      a.presence,
		Subscriptions: subs,
		QueueDepth:    len(a.inflight),
		Conversations: a.links.len(),
	}
}
