package ucwasim

import "time"

// Time rules run by the janitor (simulated durations).
const (
	messageDeliveryTimeout = 30 * time.Second // incoming IM not polled → dropped
	invitationTimeout      = 30 * time.Second // outgoing invitation not answered → failed
	janitorPeriod          = 10 * time.Millisecond
)

// janitor applies the time rules until the server closes.
func (s *Server) janitor() {
	t := time.NewTicker(janitorPeriod)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
			s.tick()
		}
	}
}

// tick applies the time rules once.
func (s *Server) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.now()
	for _, a := range s.apps {
		s.checkIdleLocked(a)
		if !a.alive() {
			continue
		}
		if a.available && !a.awayReported && now.Sub(a.lastActivity) > activityTimeout {
			a.awayReported = true
			s.emitPresenceLocked(a)
		}
		s.tickSubscriptionsLocked(a, now)
		s.dropStaleMessagesLocked(a, now)
		for _, c := range a.convs {
			if c.direction == "Outgoing" && c.invState == "Connecting" && now.Sub(c.invited) > invitationTimeout {
				c.completeInvitationLocked("Failure", "Timeout", "Timeout", "The person did not answer.")
				c.endLocked()
			}
		}
	}
}

// dropStaleMessagesLocked removes incoming messages no P-GET picked up within 30 s.
func (s *Server) dropStaleMessagesLocked(a *application, now time.Time) {
	ec := &a.events
	kept := ec.pending[:0]
	dropped := false
	for _, q := range ec.pending {
		if q.conv != nil && q.msg >= 0 && now.Sub(q.at) > messageDeliveryTimeout {
			q.conv.transcript[q.msg].Undelivered = true
			dropped = true
			continue
		}
		kept = append(kept, q)
	}
	ec.pending = kept
	if dropped {
		s.broadcastLocked()
	}
}
