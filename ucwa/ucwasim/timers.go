package ucwasim

import (
	"container/heap"
	"time"
)

// timer is a deadline of the time rules: fire runs, with the server's lock held, once the
// simulated clock reaches at. A timer is in the server's heap at most once; moving its
// deadline re-sorts it in place, so the heap holds one entry per pending rule (an
// application's idle and away checks, its oldest undelivered message, a parked P-GET, a
// presence subscription, an outgoing invitation), never one per request.
type timer struct {
	at    time.Time
	index int // position in the heap; -1 when not scheduled
	fire  func(now time.Time)
}

func newTimer(fire func(now time.Time)) *timer { return &timer{index: -1, fire: fire} }

// timerHeap orders timers by deadline (container/heap).
type timerHeap []*timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}

// scheduleLocked sets t's deadline to at, adding it to the heap or moving it there. The
// janitor is woken when t becomes the earliest deadline.
func (s *Server) scheduleLocked(t *timer, at time.Time) {
	t.at = at
	if t.index >= 0 {
		heap.Fix(&s.timers, t.index)
	} else {
		heap.Push(&s.timers, t)
	}
	if t.index == 0 {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// cancelLocked removes t from the heap; a nil or unscheduled t is left alone.
func (s *Server) cancelLocked(t *timer) {
	if t != nil && t.index >= 0 {
		heap.Remove(&s.timers, t.index)
	}
}

// maxFiredPerLock bounds the timers one lock hold fires, so that a burst of deadlines (many
// invitations timing out at once) does not keep requests waiting for the lock.
const maxFiredPerLock = 256

// runDueLocked fires the timers whose deadline has passed, at most maxFiredPerLock of them.
// It returns the earliest remaining deadline and whether there is one; more is true when due
// timers are left for the next lock hold.
func (s *Server) runDueLocked() (next time.Time, ok, more bool) {
	now := s.clock.now()
	for n := 0; len(s.timers) > 0; n++ {
		t := s.timers[0]
		if now.Before(t.at) {
			return t.at, true, false
		}
		if n == maxFiredPerLock {
			return t.at, true, true
		}
		heap.Pop(&s.timers)
		t.fire(now)
	}
	return time.Time{}, false, false
}

// janitor applies the time rules until the server closes: it sleeps until the earliest
// deadline (converted to real time by the clock's scale), or until a new deadline becomes
// the earliest. With a manual clock it only waits for Advance, which fires the timers itself.
func (s *Server) janitor() {
	wait := time.NewTimer(time.Hour)
	defer wait.Stop()
	for {
		s.mu.Lock()
		next, ok, more := s.runDueLocked()
		var d time.Duration
		if ok {
			d = s.clock.real(next.Sub(s.clock.now()))
		}
		s.mu.Unlock()
		if more {
			continue
		}
		var timeout <-chan time.Time
		if ok && !s.clock.manual {
			if d < 0 {
				d = 0
			}
			wait.Reset(d)
			timeout = wait.C
		}
		select {
		case <-s.closing:
			return
		case <-s.kick:
		case <-timeout:
		}
		if !wait.Stop() {
			select {
			case <-wait.C:
			default:
			}
		}
	}
}

// Advance moves a manual clock (Options.ManualClock) forward by d and, before it returns,
// applies every time rule that became due: expired applications, Away presence, dropped
// messages, failed invitations, subscription warnings and expiry, P-GET timeouts. It panics
// when the server's clock is not manual.
func (s *Server) Advance(d time.Duration) {
	if !s.clock.manual {
		panic("ucwasim: Advance needs Options.ManualClock")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock.advance(d)
	for {
		if _, _, more := s.runDueLocked(); !more {
			return
		}
	}
}

// timersLen is how many deadlines the server has scheduled (tests check the heap stays small).
func (s *Server) timersLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.timers)
}
