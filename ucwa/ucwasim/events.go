package ucwasim

import (
	"net/http"
	"strconv"
	"time"
)

// event is one entry of a sender block: link, in, type, status, reason, _embedded.
type event map[string]any

// queued is an event waiting in, or delivered by, the event channel.
type queued struct {
	sender, senderHref string
	ev                 event
	at                 time.Time     // simulated time it was queued
	conv               *Conversation // set for incoming messages (the 30 s delivery rule)
	msg                int           // index of the message in conv's transcript
	// preview is the transcript index of the first message an invitation carries (-1: none):
	// an invitation dropped before any P-GET fetched it leaves that message undelivered.
	preview int
}

// batch is one built response of the event channel.
type batch struct {
	items  []*queued
	resume bool // answered with a resume link instead of next
}

// eventChannel is the P-GET state of one application. Batch numbers are acks: P-GET ack=N
// acknowledges batches before N and asks for batch N.
type eventChannel struct {
	pending  []*queued
	batches  map[int]*batch // built and not yet acknowledged
	first    int            // lowest unacknowledged batch number
	last     int            // highest built batch number (0 = none)
	wake     chan struct{}  // closed and replaced on every change
	parked   *pget          // the P-GET being held, if any
	lastPoll time.Time      // when the last P-GET was released (simulated)
	timeout  time.Duration  // remembered timeout parameter (simulated)
	resync   bool           // ForceResync: the next P-GET answers only a resync link
	resume   bool           // ForceResume: the next P-GET answers resume, transient state dropped
}

// pget is a parked P-GET; replaced is closed when a newer P-GET takes its place, and timeout
// (a timer of the time rules) sets timedOut when its timeout parameter has passed.
type pget struct {
	replaced chan struct{}
	timeout  *timer
	timedOut bool
}

func (ec *eventChannel) init(now time.Time) {
	ec.batches = map[int]*batch{}
	ec.first = 1
	ec.wake = make(chan struct{})
	ec.lastPoll = now
	ec.timeout = 180 * time.Second
}

func (ec *eventChannel) firstUnacked() int { return ec.first }

// wakeup releases everyone waiting on the channel so they re-check its state.
func (ec *eventChannel) wakeup() {
	close(ec.wake)
	ec.wake = make(chan struct{})
}

// emit queues an event from sender.
func (ec *eventChannel) emit(sender, senderHref string, ev event) {
	ec.emitQueued(&queued{sender: sender, senderHref: senderHref, ev: ev, msg: -1, preview: -1})
}

func (ec *eventChannel) emitQueued(q *queued) {
	ec.pending = append(ec.pending, q)
	ec.wakeup()
}

// handleEvents serves one P-GET: it answers at once when a batch is ready, otherwise holds the
// request until events arrive or the timeout passes.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request, rt route, u *user) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "", "")
		return
	}
	q := r.URL.Query()
	ack, err := strconv.Atoi(q.Get("ack"))
	if err != nil {
		ack = -1
	}
	s.mu.Lock()
	a := s.lookupApp(w, rt.app, u)
	if a == nil {
		s.mu.Unlock()
		return
	}
	ec := &a.events
	if t, err := strconv.ParseFloat(q.Get("timeout"), 64); err == nil && t > 0 {
		ec.timeout = time.Duration(min(t, 1800) * float64(time.Second))
	}
	me := &pget{replaced: make(chan struct{})}
	me.timeout = newTimer(func(time.Time) {
		me.timedOut = true
		ec.wakeup()
	})
	if ec.parked != nil {
		close(ec.parked.replaced)
	}
	ec.parked = me
	s.cancelLocked(a.idle)
	s.scheduleLocked(me.timeout, s.clock.now().Add(ec.timeout))
	// release ends this P-GET; the lock is held.
	release := func() {
		s.cancelLocked(me.timeout)
		if ec.parked == me {
			ec.parked = nil
			ec.lastPoll = s.clock.now()
			if a.state == appLive && s.apps[a.id] == a {
				s.armIdleLocked(a)
			}
		}
	}
	for {
		select {
		case <-me.replaced:
			release()
			s.mu.Unlock()
			writeError(w, http.StatusConflict, "PGetReplaced", "The pending GET request was replaced by a newer one.")
			return
		default:
		}
		if s.apps[a.id] != a || a.state != appLive {
			release()
			s.lookupApp(w, rt.app, u)
			s.mu.Unlock()
			return
		}
		if body := s.pollLocked(a, ack, me.timedOut); body != nil {
			release()
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, body)
			return
		}
		wake := ec.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-me.replaced:
		case <-r.Context().Done():
			s.mu.Lock()
			release()
			s.mu.Unlock()
			return
		case <-s.closing:
			s.mu.Lock()
			release()
			s.mu.Unlock()
			writeError(w, http.StatusServiceUnavailable, "", "The server is shutting down.")
			return
		}
		s.mu.Lock()
	}
}

// pollLocked returns the response for P-GET ack, or nil when the request must wait.
func (s *Server) pollLocked(a *application, ack int, timedOut bool) map[string]any {
	ec := &a.events
	href := func(n int) string { return a.base + "/events?ack=" + strconv.Itoa(n) }
	if ec.resync || ack < ec.first || ack > ec.last+1 {
		ec.resync = false
		self := href(ack)
		if ack < 0 {
			self = a.base + "/events"
		}
		return map[string]any{"_links": map[string]any{"self": lk(self), "resync": lk(href(ec.first))}}
	}
	for n := ec.first; n < ack; n++ {
		delete(ec.batches, n)
	}
	ec.first = ack
	b := ec.batches[ack]
	if b == nil {
		switch {
		case ec.resume:
			ec.resume = false
			s.dropTransientLocked(a)
			b = &batch{resume: true}
		case len(ec.pending) > 0 || timedOut:
			b = &batch{items: ec.pending}
			ec.pending = nil
			s.cancelLocked(a.stale)
		default:
			return nil
		}
		ec.batches[ack] = b
		ec.last = ack
	}
	cont := "next"
	if b.resume {
		cont = "resume"
	}
	body := map[string]any{"_links": map[string]any{"self": lk(href(ack)), cont: lk(href(ack + 1))}}
	if len(b.items) > 0 {
		body["sender"] = senderBlocks(b.items)
	}
	return body
}

// senderBlocks groups consecutive events of the same sender, keeping global order.
func senderBlocks(items []*queued) []map[string]any {
	var out []map[string]any
	var evs []event
	for i, q := range items {
		evs = append(evs, q.ev)
		if i+1 == len(items) || items[i+1].sender != q.sender || items[i+1].senderHref != q.senderHref {
			out = append(out, map[string]any{"rel": q.sender, "href": q.senderHref, "events": evs})
			evs = nil
		}
	}
	return out
}

// ForceResync makes the next P-GET of uri's applications answer only a resync link.
func (s *Server) ForceResync(uri string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.appsOf(normURI(uri)) {
		a.events.resync = true
		a.events.wakeup()
	}
}

// ForceResume makes the next P-GET of uri's applications answer with a resume link; their
// conversations and subscriptions are dropped without deletion events.
func (s *Server) ForceResume(uri string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.appsOf(normURI(uri)) {
		a.events.resume = true
		a.events.wakeup()
	}
}

// Unacknowledged returns how many events the live applications of botURI hold that their
// event channels have not acknowledged: queued, or delivered in a batch that no later P-GET
// acknowledged yet. Zero means the bot has everything the server emitted so far.
func (s *Server) Unacknowledged(botURI string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[normURI(botURI)]
	n := 0
	for _, a := range s.apps {
		if a.user != u || !a.alive() {
			continue
		}
		n += len(a.events.pending)
		for _, b := range a.events.batches {
			n += len(b.items)
		}
	}
	return n
}
