package ucwasim

import (
	"net/http"
	"strings"
	"time"
)

// application states.
const (
	appLive = iota
	appExpired
)

// application is a UCWA application of one user, with its event channel and the
// conversations and subscriptions it holds.
type application struct {
	id, base                                   string
	user                                       *user
	endpointID, userAgent, culture, instanceID string
	state                                      int
	guid                                       string // the PUT marker property of communication
	created                                    time.Time

	available    bool
	availability string // from signInAs or POST me/presence; "" = Online
	modalities   []string
	formats      []string
	lastActivity time.Time
	awayReported bool // a presence updated event went out when availability dropped to Away

	events eventChannel
	convs  map[string]*Conversation // by conversation id
	invs   map[string]*Conversation // by messaging invitation id
	subs   map[string]*subscription

	idle, away, stale *timer // the idle expiry, Away and 30 s delivery rules (janitor.go)
}

func (a *application) alive() bool { return a != nil && a.state == appLive }

// handleApplications creates an application (POST) for the authenticated user.
func (s *Server) handleApplications(w http.ResponseWriter, r *http.Request, u *user) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "", "")
		return
	}
	in, err := decodeInput(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "DeserializationFailure", "")
		return
	}
	ua, ep, cu, inst := in.str("userAgent"), in.str("endpointId"), in.str("culture"), in.str("instanceId")
	if ua == "" || ep == "" || cu == "" || len(ua) > 100 || len(ep) > 100 || len(cu) > 100 {
		writeError(w, http.StatusBadRequest, "ParameterValidationFailure", "userAgent, endpointId and culture are required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range u.apps {
		if a.alive() && a.endpointID == ep && a.userAgent == ua && a.culture == cu && a.instanceID == inst {
			writeJSON(w, http.StatusOK, s.applicationResource(a))
			return
		}
	}
	id := s.newID()
	now := s.clock.now()
	a := &application{
		id: id, base: appsPath + "/" + id, user: u,
		endpointID: ep, userAgent: ua, culture: cu, instanceID: inst,
		guid: newGUID(), created: now, lastActivity: now,
		formats: []string{"Plain"},
		convs:   map[string]*Conversation{}, invs: map[string]*Conversation{}, subs: map[string]*subscription{},
	}
	a.events.init(now)
	s.newAppTimers(a)
	s.armIdleLocked(a)
	s.apps[id] = a
	u.apps = append(u.apps, a)
	u.signedIn = true
	w.Header().Set("Location", a.base)
	writeJSON(w, http.StatusCreated, s.applicationResource(a))
}

// lookupApp finds the application of a request, answering the error when it is gone.
func (s *Server) lookupApp(w http.ResponseWriter, id string, u *user) *application {
	a := s.apps[id]
	if a != nil {
		s.checkIdleLocked(a)
	}
	switch {
	case a == nil:
		writeError(w, http.StatusNotFound, "ApplicationNotFound", "The application does not exist.")
	case a.user != u:
		writeError(w, http.StatusForbidden, "", "The application belongs to another user.")
	case a.state == appExpired:
		writeError(w, http.StatusGone, "InactiveApplicationExpired", "The application expired because it was inactive.")
	default:
		return a
	}
	return nil
}

// handleAppResource serves every resource below an application.
func (s *Server) handleAppResource(w http.ResponseWriter, r *http.Request, rt route, u *user) {
	if rt.rel == "events" {
		s.handleEvents(w, r, rt, u)
		return
	}
	in, err := decodeInput(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "DeserializationFailure", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.lookupApp(w, rt.app, u)
	if a == nil {
		return
	}
	switch rt.rel {
	case "application":
		s.handleApplication(w, r, a)
	case "me", "makeMeAvailable", "reportMyActivity", "presence", "note", "location":
		s.handleMe(w, r, a, rt, in)
	case "communication":
		onlyGet(w, r, func() { writeJSON(w, http.StatusOK, s.communicationResource(a)) })
	case "policies":
		onlyGet(w, r, func() {
			writeJSON(w, http.StatusOK, map[string]any{"_links": map[string]any{"self": lk(a.base + "/policies")}, "rel": "policies"})
		})
	case "people", "contact", "contactPresence", "contactNote":
		s.handlePeople(w, r, a, rt)
	case "presenceSubscriptions", "presenceSubscription", "memberships", "presenceSubscriptionMembership", "subscribedContacts":
		s.handleSubscriptions(w, r, a, rt, in)
	case "batch":
		writeError(w, http.StatusNotImplemented, "", "Batching is not supported.")
	default:
		s.handleCommunication(w, r, a, rt, in)
	}
}

func onlyGet(w http.ResponseWriter, r *http.Request, f func()) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "", "")
		return
	}
	f()
}

// handleApplication serves GET and DELETE of the application itself.
func (s *Server) handleApplication(w http.ResponseWriter, r *http.Request, a *application) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, s.applicationResource(a))
	case http.MethodDelete:
		s.removeAppLocked(a)
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, http.StatusMethodNotAllowed, "", "")
	}
}

// removeAppLocked deletes an application: its conversations end silently, its P-GET is released.
func (s *Server) removeAppLocked(a *application) {
	delete(s.apps, a.id)
	u := a.user
	for i, x := range u.apps {
		if x == a {
			u.apps = append(u.apps[:i], u.apps[i+1:]...)
			break
		}
	}
	s.stopAppTimersLocked(a)
	s.dropTransientLocked(a)
	a.events.wakeup()
}

// expireAppLocked marks an application expired (410 InactiveApplicationExpired from now on).
func (s *Server) expireAppLocked(a *application) {
	a.state = appExpired
	s.stopAppTimersLocked(a)
	s.dropTransientLocked(a)
	a.events.wakeup()
}

// dropTransientLocked ends a's conversations and subscriptions without events; messages
// waiting in the event channel, or in a batch no P-GET acknowledged yet, are lost (marked
// undelivered: the server never had the endpoint's confirmation that it has them).
func (s *Server) dropTransientLocked(a *application) {
	lost := func(q *queued) {
		if q.conv != nil && q.msg >= 0 {
			q.conv.transcript[q.msg].Undelivered = true
		}
		if q.conv != nil && q.preview >= 0 {
			q.conv.transcript[q.preview].Undelivered = true
		}
	}
	for _, q := range a.events.pending {
		lost(q)
	}
	for _, b := range a.events.batches {
		for _, q := range b.items {
			lost(q)
		}
	}
	a.events.pending = nil
	s.cancelLocked(a.stale)
	for _, c := range a.convs {
		c.endSilentlyLocked()
	}
	for _, sub := range a.subs {
		s.cancelLocked(sub.timer)
	}
	a.convs = map[string]*Conversation{}
	a.invs = map[string]*Conversation{}
	a.subs = map[string]*subscription{}
	s.broadcastLocked()
}

// checkIdleLocked expires a when no P-GET was parked for AppIdleTimeout (simulated).
func (s *Server) checkIdleLocked(a *application) {
	if a.state != appLive || a.events.parked != nil {
		return
	}
	if !s.clock.now().Before(after(a.events.lastPoll, s.opt.AppIdleTimeout)) {
		s.expireAppLocked(a)
	}
}

// KillApplication deletes the applications of uri without telling them: their next request
// gets 404 ApplicationNotFound.
func (s *Server) KillApplication(uri string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.appsOf(normURI(uri)) {
		s.removeAppLocked(a)
	}
}

// ExpireApplication expires the applications of uri: their next request gets 410
// InactiveApplicationExpired.
func (s *Server) ExpireApplication(uri string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.appsOf(normURI(uri)) {
		if a.state == appLive {
			s.expireAppLocked(a)
		}
	}
}

// appsOf lists the applications of uri (live and expired), oldest first.
func (s *Server) appsOf(uri string) []*application {
	if u := s.users[uri]; u != nil {
		return append([]*application(nil), u.apps...)
	}
	return nil
}

// activeApp is the newest live application of uri that made itself available.
func (s *Server) activeApp(uri string) *application {
	var best *application
	for _, a := range s.appsOf(uri) {
		if a.alive() && a.available && (best == nil || a.created.After(best.created)) {
			best = a
		}
	}
	return best
}

func newGUID() string {
	h := randID(16)
	return strings.Join([]string{h[0:8], h[8:12], h[12:16], h[16:20], h[20:32]}, "-")
}
