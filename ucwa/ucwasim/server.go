package ucwasim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Options configures a Server. The zero value is usable.
type Options struct {
	// TimeScale is the number of simulated seconds per real second (default 1); with 60, a
	// 4-minute rule takes 4 real seconds.
	TimeScale float64
	// Domain is the SIP domain of the deployment (default "contoso.com").
	Domain string
	// TokenLifetime is the simulated lifetime of an access token (default 8h).
	TokenLifetime time.Duration
	// Addr is the listen address used by New (default "127.0.0.1:0").
	Addr string
	// Logf, when set, receives one line per request. It may be called while the server holds
	// its lock, so it must not call methods of the Server.
	Logf func(format string, args ...any)
	// AppIdleTimeout is how long (simulated) an application lives with no P-GET parked before
	// the server expires it (default 3 minutes).
	AppIdleTimeout time.Duration
	// InviteWait is how long (real time) Invite waits for the bot to have an available
	// application before it fails with ErrNotAvailable (default 5s; negative: no wait).
	InviteWait time.Duration
	// VerifyBearer, when set, vouches for bearer tokens the server did not issue itself (for
	// instance Azure AD tokens, PROTOCOL.md §3): it returns the sip URI of the token's user
	// (a user added with AddUser) and true, or false to refuse the token with 401. It is
	// called without the server's lock held, for every such request.
	VerifyBearer func(token string) (uri string, ok bool)
	// ManualClock stops the simulated clock from following real time: it moves only when
	// Advance moves it, and Advance applies the time rules that became due before it returns
	// (TimeScale is then ignored). P-GET timeouts and token lifetimes follow the same clock;
	// InviteWait and Fault.Delay stay real time.
	ManualClock bool
	// Seed seeds the choices of faults injected with a Rate (0: a random seed).
	Seed uint64
}

// Errors returned by the control API.
var (
	// ErrUnknownUser reports a URI that was not added with AddUser.
	ErrUnknownUser = errors.New("ucwasim: unknown user")
	// ErrUserExists reports a second AddUser for the same URI.
	ErrUserExists = errors.New("ucwasim: user already exists")
	// ErrNotAvailable reports that the user has no live application that made itself available.
	ErrNotAvailable = errors.New("ucwasim: user has no available application")
	// ErrConversationEnded reports a scripted action on a conversation that is over.
	ErrConversationEnded = errors.New("ucwasim: conversation ended")
	// ErrNotParticipant reports a scripted action by someone who is not in the conversation.
	ErrNotParticipant = errors.New("ucwasim: not a participant")
	// ErrClosed reports a wait cut short because the server closed.
	ErrClosed = errors.New("ucwasim: server closed")
	// ErrAlreadyParticipant reports a Join by someone already in the conversation.
	ErrAlreadyParticipant = errors.New("ucwasim: already a participant")
)

// Server is an in-process UCWA server listening on real HTTP.
type Server struct {
	opt   Options
	clock *clock

	ln      net.Listener
	srv     *http.Server
	handler http.Handler
	closing chan struct{}
	closed  sync.Once
	wg      sync.WaitGroup // serve loop, janitor, in-flight handlers

	mu       sync.Mutex
	users    map[string]*user // by normalised sip URI
	tokens   map[string]*token
	apps     map[string]*application  // live and expired (tombstoned) applications by id
	idSeq    uint64                   // the sequence part of ids (newID)
	convs    map[string]*Conversation // every conversation ever made, by id
	byBot    map[*user][]*Conversation
	sent     map[*user][]msgRef // each bot's messages in the order they were sent
	faults   []*armedFault
	faultSeq int
	rnd      *rand.Rand    // fault rates (Options.Seed)
	timers   timerHeap     // deadlines of the time rules (janitor.go)
	kick     chan struct{} // wakes the janitor when the earliest deadline changes

	reqMu    sync.Mutex // guards requests; taken while mu may be held, never the other way round
	requests []Request
	changed  chan struct{} // closed and replaced when a transcript or an application's availability changes
}

// New starts a Server listening on o.Addr (default 127.0.0.1:0).
func New(o Options) (*Server, error) {
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ucwasim: listen %s: %w", addr, err)
	}
	return NewWithListener(l, o), nil
}

// NewWithListener starts a Server serving on l; Close closes l.
func NewWithListener(l net.Listener, o Options) *Server {
	if o.Domain == "" {
		o.Domain = "contoso.com"
	}
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = 8 * time.Hour
	}
	if o.InviteWait == 0 {
		o.InviteWait = 5 * time.Second
	}
	if o.AppIdleTimeout <= 0 {
		o.AppIdleTimeout = 3 * time.Minute
	}
	s := &Server{
		opt:     o,
		clock:   newClock(o.TimeScale, o.ManualClock),
		ln:      l,
		closing: make(chan struct{}),
		users:   map[string]*user{},
		tokens:  map[string]*token{},
		apps:    map[string]*application{},
		convs:   map[string]*Conversation{},
		byBot:   map[*user][]*Conversation{},
		sent:    map[*user][]msgRef{},
		rnd:     newRand(o.Seed),
		kick:    make(chan struct{}, 1),
		changed: make(chan struct{}),
	}
	s.handler = http.HandlerFunc(s.serveHTTP)
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		_ = s.srv.Serve(l)
	}()
	go func() {
		defer s.wg.Done()
		s.janitor()
	}()
	return s
}

// URL returns the base URL of the server, e.g. http://127.0.0.1:port.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// DiscoveryURL returns the lyncdiscover root to give a client as its discovery URL.
func (s *Server) DiscoveryURL() string {
	return s.URL() + rootPath + "?originalDomain=" + s.opt.Domain
}

// Handler returns the HTTP handler of the server, for mounting it elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

// Now returns the simulated time.
func (s *Server) Now() time.Time { return s.clock.now() }

// Close stops the server: parked P-GETs are released, connections closed, and every goroutine
// the server started has ended when Close returns.
func (s *Server) Close() error {
	var err error
	s.closed.Do(func() {
		close(s.closing)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err = s.srv.Shutdown(ctx); err != nil {
			err = s.srv.Close()
		}
		s.wg.Wait()
	})
	return err
}

// serveHTTP is the root handler: it routes, records, applies faults, and dispatches.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.wg.Add(1)
	defer s.wg.Done()
	rt := parseRoute(r.URL.Path)
	who := s.requestUser(r, rt)
	f, fid := s.matchFault(r.Method, rt.rel, r.URL.Path, who)
	rw := &recorder{ResponseWriter: w, log: func(status int) { s.record(r, rt, who, status, fid) }}
	defer rw.finish()
	w.Header().Set("X-MS-UcwaVersion", "2")
	if f != nil && s.applyFault(rw, r, rt, f, who) {
		return
	}
	s.dispatch(rw, r, rt)
}

// writeJSON answers status with v as the JSON body.
// answers are the buffers answers are encoded into.
var answers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := answers.Get().(*[]byte)
	defer answers.Put(buf)
	b, err := appendJSON((*buf)[:0], v)
	*buf = b[:0]
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError answers a UCWA error body {code, subcode, message}.
func writeError(w http.ResponseWriter, status int, subcode, message string) {
	writeErrorCode(w, status, codeName(status), subcode, message)
}

func writeErrorCode(w http.ResponseWriter, status int, code, subcode, message string) {
	if message == "" {
		message = "An error occurred. Please retry. If the problem persists, contact your support team."
	}
	body := map[string]any{"code": code, "message": message}
	if subcode != "" {
		body["subcode"] = subcode
	}
	writeJSON(w, status, body)
}

// codeName maps an HTTP status to its UCWA error code name.
func codeName(status int) string {
	switch status {
	case 400:
		return "BadRequest"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "NotFound"
	case 405:
		return "MethodNotAllowed"
	case 408:
		return "ClientTimeout"
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 412:
		return "PreconditionFailed"
	case 413:
		return "EntityTooLarge"
	case 415:
		return "UnsupportedMediaType"
	case 428:
		return "PreconditionRequired"
	case 429:
		return "TooManyRequests"
	case 500:
		return "ServiceFailure"
	case 503:
		return "ServiceUnavailable"
	case 504:
		return "Timeout"
	}
	return http.StatusText(status)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
