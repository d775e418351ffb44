package ucwasim

import (
	"bufio"
	"bytes"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// newRand is the source of fault rates: seeded by seed, or at random when seed is 0.
func newRand(seed uint64) *rand.Rand {
	if seed == 0 {
		seed = rand.Uint64()
	}
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Fault describes an injected failure for the next matching requests. A request matches when
// Method, Rel, User and Path all match (an empty one matches anything); it is hit when, on
// top of that, the Rate draw says so. What a hit does, in order: Action, then Delay, then the
// answer (Drop, or Status with Code, Subcode, RetryAfter and HTML), or the normal answer when
// there is neither. With AfterServe the request is served first (its effects happen: a
// message is posted, a batch is built) and the answer the client gets is the fault's.
type Fault struct {
	Method string // "" = any
	// Rel names the endpoint by link rel: "events", "reportMyActivity", "makeMeAvailable",
	// "sendMessage", "applications", "application", "token", "user", "root",
	// "presenceSubscriptions", "accept", "startMessaging", "me", ... "" = any.
	Rel  string
	User string // sip URI of the requesting user; "" = any
	// Path is a pattern for the request path (without the query), matched in any letter case,
	// in which "*" stands for any run of characters, "/" included: "*/messaging/messages",
	// "/ucwa/oauth/v1/applications/*/events". "" = any.
	Path       string
	Status     int           // HTTP status to answer; 0 with Delay only delays the normal answer
	Code       string        // UCWA error code (default: the name of Status)
	Subcode    string        // 403 with InvalidToken also sends the Warning header and the challenge
	RetryAfter time.Duration // sent as Retry-After (whole seconds) when > 0
	HTML       bool          // answer with a proxy-style text/html page instead of a UCWA error body
	Delay      time.Duration // delay the answer (real time)
	Drop       bool          // close the connection without answering
	// AfterServe serves the request before the fault answers: the server has acted, but the
	// client gets Status or a dropped connection instead of the answer (or, with only Delay,
	// the real answer late).
	AfterServe bool
	// Action is done to the requesting user (or to User when the request names none) when
	// the fault hits, before the request is served: FaultResync, FaultResume,
	// FaultRevokeTokens, FaultKill or FaultExpire.
	Action string
	// Rate is the chance in (0, 1) that a matching request is hit; 0 (or 1 and above) hits
	// every matching request. Draws come from Options.Seed.
	Rate  float64
	Times int // how many requests are hit (default 1; negative: no limit)
}

// Actions a Fault can do when it hits (Fault.Action).
const (
	FaultResync       = "resync"       // ForceResync
	FaultResume       = "resume"       // ForceResume
	FaultRevokeTokens = "revokeTokens" // RevokeTokens
	FaultKill         = "kill"         // KillApplication
	FaultExpire       = "expire"       // ExpireApplication
)

// FaultActions lists the valid values of Fault.Action.
var FaultActions = []string{FaultResync, FaultResume, FaultRevokeTokens, FaultKill, FaultExpire}

// FaultStatus is an armed fault as Faults reports it.
type FaultStatus struct {
	ID    int
	Fault Fault
	Hits  int // requests it hit so far
	Left  int // hits left before it is disarmed; negative: no limit
}

// armedFault is a fault waiting for requests.
type armedFault struct {
	id   int
	f    Fault
	path *regexp.Regexp // compiled Path, nil = any
	hits int
	left int
}

// Inject arms f for the next f.Times matching requests and returns its id (for Faults and
// ClearFaults). Faults are matched in the order they were injected; a request gets at most one.
func (s *Server) Inject(f Fault) int {
	if f.Times == 0 {
		f.Times = 1
	}
	f.User = normURI(f.User)
	af := &armedFault{f: f, left: f.Times}
	if f.Path != "" {
		af.path = globRE(f.Path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultSeq++
	af.id = s.faultSeq
	s.faults = append(s.faults, af)
	return af.id
}

// globRE compiles a Path pattern: "*" is any run of characters, the rest is literal.
func globRE(p string) *regexp.Regexp {
	parts := strings.Split(p, "*")
	for i, x := range parts {
		parts[i] = regexp.QuoteMeta(x)
	}
	return regexp.MustCompile("(?i)^" + strings.Join(parts, ".*") + "$")
}

// Faults returns the armed faults in matching order.
func (s *Server) Faults() []FaultStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]FaultStatus, 0, len(s.faults))
	for _, af := range s.faults {
		out = append(out, FaultStatus{ID: af.id, Fault: af.f, Hits: af.hits, Left: af.left})
	}
	return out
}

// ClearFaults disarms the faults with the given ids, or every fault when no id is given, and
// returns how many it disarmed.
func (s *Server) ClearFaults(ids ...int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(ids) == 0 {
		n := len(s.faults)
		s.faults = nil
		return n
	}
	kept, n := s.faults[:0], 0
	for _, af := range s.faults {
		if slices.Contains(ids, af.id) {
			n++
			continue
		}
		kept = append(kept, af)
	}
	clear(s.faults[len(kept):])
	s.faults = kept
	return n
}

// matchFault consumes a hit of the first armed fault that hits the request, and returns the
// fault and its id, or nil.
func (s *Server) matchFault(method, rel, path, who string) (*Fault, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, af := range s.faults {
		f := &af.f
		if (f.Method != "" && !strings.EqualFold(f.Method, method)) ||
			(f.Rel != "" && !strings.EqualFold(f.Rel, rel)) ||
			(f.User != "" && f.User != who) ||
			(af.path != nil && !af.path.MatchString(path)) {
			continue
		}
		if f.Rate > 0 && f.Rate < 1 && s.rnd.Float64() >= f.Rate {
			continue
		}
		af.hits++
		if af.left > 0 {
			af.left--
			if af.left == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		c := *f
		return &c, af.id
	}
	return nil, 0
}

// doFaultAction does f.Action to the user who made the request (or f.User).
func (s *Server) doFaultAction(f *Fault, who string) {
	if who == "" {
		who = f.User
	}
	if who == "" {
		return
	}
	switch f.Action {
	case FaultResync:
		s.ForceResync(who)
	case FaultResume:
		s.ForceResume(who)
	case FaultRevokeTokens:
		s.RevokeTokens(who)
	case FaultKill:
		s.KillApplication(who)
	case FaultExpire:
		s.ExpireApplication(who)
	}
}

// applyFault answers the request as f says; it returns false when the request should then be
// served normally (an action or a delay only).
func (s *Server) applyFault(w *recorder, r *http.Request, rt route, f *Fault, who string) bool {
	if f.Action != "" {
		s.doFaultAction(f, who)
	}
	var served *capture
	if f.AfterServe {
		served = &capture{header: http.Header{}}
		s.dispatch(served, r, rt)
	}
	if f.Delay > 0 {
		// Read the body first (kept for the normal answer): the server
		// notices a client that gives up (its context ends) only once the
		// request body is consumed.
		if r.Body != nil {
			b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		case <-s.closing:
			t.Stop()
			return true
		}
	}
	if f.Drop {
		if hj, ok := w.ResponseWriter.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				w.logOnce(-1)
				_ = conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	}
	if f.Status == 0 {
		if served != nil {
			served.replay(w)
			return true
		}
		return false
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
	}
	if f.HTML {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte("<html><head><title>" + strconv.Itoa(f.Status) + " " + http.StatusText(f.Status) +
			"</title></head><body><h1>" + http.StatusText(f.Status) + "</h1><p>The proxy server could not handle the request.</p></body></html>"))
		return true
	}
	if f.Status == http.StatusUnauthorized {
		w.Header().Add("WWW-Authenticate", s.challenge(r))
	}
	if f.Status == http.StatusForbidden && strings.EqualFold(f.Subcode, "InvalidToken") {
		// As Online tenants flag a bad token (PROTOCOL.md §2.3).
		w.Header().Add("Warning", `120 lync "InvalidToken"`)
		w.Header().Add("WWW-Authenticate", s.challenge(r))
	}
	code := f.Code
	if code == "" {
		code = codeName(f.Status)
	}
	writeErrorCode(w, f.Status, code, f.Subcode, "Injected fault.")
	return true
}

// capture is the ResponseWriter of a request served before an AfterServe fault answers it.
type capture struct {
	header http.Header
	status int
	body   []byte
}

func (c *capture) Header() http.Header { return c.header }
func (c *capture) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}
func (c *capture) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	c.body = append(c.body, b...)
	return len(b), nil
}

// replay sends the captured answer.
func (c *capture) replay(w http.ResponseWriter) {
	maps.Copy(w.Header(), c.header)
	if c.status == 0 {
		c.status = http.StatusOK
	}
	w.WriteHeader(c.status)
	_, _ = w.Write(c.body)
}

// Request is one entry of the request log.
type Request struct {
	Method string
	Path   string // path and query
	Rel    string // endpoint by link rel ("" = unknown path)
	User   string // sip URI of the token's user ("" = none)
	Status int    // answered status; -1 when the connection was dropped, 0 when the client went away
	Time   time.Time
	Fault  int // id of the injected fault that hit the request (0 = none)
}

// maxRequests bounds the request log; older entries are dropped.
const maxRequests = 10000

// Requests returns the request log, oldest first.
func (s *Server) Requests() []Request {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) record(r *http.Request, rt route, who string, status, fault int) {
	req := Request{Method: r.Method, Path: r.URL.RequestURI(), Rel: rt.rel, User: who, Status: status, Time: s.clock.now(), Fault: fault}
	s.reqMu.Lock()
	if len(s.requests) >= maxRequests {
		s.requests = append(s.requests[:0], s.requests[len(s.requests)-maxRequests/2:]...)
	}
	s.requests = append(s.requests, req)
	s.reqMu.Unlock()
	if s.opt.Logf != nil {
		s.opt.Logf("ucwasim: %s %s rel=%s user=%s → %d", req.Method, r.URL.Path, req.Rel, req.User, req.Status)
	}
}

// recorder logs a request once its status is known, before the answer reaches the client, so
// that Requests includes every request a client has seen answered.
type recorder struct {
	http.ResponseWriter
	status int
	logged bool
	log    func(status int)
}

func (w *recorder) logOnce(status int) {
	if !w.logged {
		w.logged = true
		w.status = status
		w.log(status)
	}
}

// finish logs a request that ended without an answer (the client went away) as status 0.
func (w *recorder) finish() { w.logOnce(0) }

func (w *recorder) WriteHeader(code int) {
	w.logOnce(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if !w.logged {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Hijack lets a Drop fault close the connection.
func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
