package bot

import (
	"fmt"
	"time"
)

// ready says why the account is not ready, or nil.
func (a *account) ready() error {
	grace := a.e.cfg.PollTimeout + 90*time.Second
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.state == stateReplaced:
		return errReplaced
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
