package ucwasim

import "time"

// Time rules (simulated durations). Each rule is a timer in the server's heap (timers.go),
// armed where the time it counts from is set, so the janitor works only on what is due.
const (
	messageDeliveryTimeout = 30 * time.Second // incoming IM not polled → dropped
	invitationTimeout      = 30 * time.Second // outgoing invitation not answered → failed
)

// after is the first instant at which more than d has passed since t (the rules say "more
// than", so a deadline fires one nanosecond after t+d).
func after(t time.Time, d time.Duration) time.Time { return t.Add(d + time.Nanosecond) }

// newAppTimers gives a its idle, away and undelivered-message timers.
func (s *Server) newAppTimers(a *application) {
	a.idle = newTimer(func(time.Time) {
		if s.checkIdleLocked(a); a.state == appLive && a.events.parked == nil {
			s.armIdleLocked(a)
		}
	})
	a.away = newTimer(func(now time.Time) { s.awayDueLocked(a, now) })
	a.stale = newTimer(func(now time.Time) { s.dropStaleMessagesLocked(a, now) })
}

// armIdleLocked schedules the idle expiry of a, which has had no P-GET parked since lastPoll.
func (s *Server) armIdleLocked(a *application) {
	s.scheduleLocked(a.idle, after(a.events.lastPoll, s.opt.AppIdleTimeout))
}

// armAwayLocked schedules the drop to Away of a, counted from its last activity.
func (s *Server) armAwayLocked(a *application) {
	s.scheduleLocked(a.away, after(a.lastActivity, activityTimeout))
}

// awayDueLocked reports Away with a presence updated event once a's last reportMyActivity or
// makeMeAvailable is more than 4 minutes old.
func (s *Server) awayDueLocked(a *application, now time.Time) {
	if !a.alive() || !a.available || a.awayReported {
		return
	}
	if due := after(a.lastActivity, activityTimeout); now.Before(due) {
		s.scheduleLocked(a.away, due)
		return
	}
	a.awayReported = true
	s.emitPresenceLocked(a)
}

// stopAppTimersLocked cancels the idle and Away rules of a (the application is gone or
// expired); dropTransientLocked cancels those of its messages, conversations and
// subscriptions.
func (s *Server) stopAppTimersLocked(a *application) {
	s.cancelLocked(a.idle)
	s.cancelLocked(a.away)
}

// armStaleLocked schedules the 30 s delivery rule for an incoming message queued at at,
// unless an older message already holds the timer.
func (s *Server) armStaleLocked(a *application, at time.Time) {
	if a.stale.index < 0 {
		s.scheduleLocked(a.stale, after(at, messageDeliveryTimeout))
	}
}

// dropStaleMessagesLocked removes incoming messages no P-GET picked up within 30 s and arms
// the rule again for the oldest message left.
func (s *Server) dropStaleMessagesLocked(a *application, now time.Time) {
	ec := &a.events
	kept := ec.pending[:0]
	var oldest time.Time
	for _, q := range ec.pending {
		if q.conv != nil && q.msg >= 0 {
			if !now.Before(after(q.at, messageDeliveryTimeout)) {
				q.conv.transcript[q.msg].Undelivered = true
				continue
			}
			if oldest.IsZero() {
				oldest = q.at
			}
		}
		kept = append(kept, q)
	}
	clear(ec.pending[len(kept):])
	ec.pending = kept
	if !oldest.IsZero() {
		s.armStaleLocked(a, oldest)
	}
}

// armInvitationLocked schedules the failure of c, an outgoing invitation nobody answered.
func (s *Server) armInvitationLocked(c *Conversation) {
	if c.invTimer == nil {
		c.invTimer = newTimer(func(now time.Time) { c.invitationDueLocked(now) })
	}
	s.scheduleLocked(c.invTimer, after(c.invited, invitationTimeout))
}

// invitationDueLocked fails c's outgoing invitation when it is still unanswered after 30 s.
func (c *Conversation) invitationDueLocked(now time.Time) {
	if !c.app.alive() || c.app.convs[c.id] != c || c.direction != "Outgoing" || c.invState != "Connecting" {
		return
	}
	if due := after(c.invited, invitationTimeout); now.Before(due) {
		c.s.scheduleLocked(c.invTimer, due)
		return
	}
	c.completeInvitationLocked("Failure", "Timeout", "Timeout", "The person did not answer.")
	c.endLocked()
}
