package ucwasim

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault describes an injected failure for the next matching requests.
type Fault struct {
	Method string // "" = any
	// Rel names the endpoint by link rel: "events", "reportMyActivity", "makeMeAvailable",
	// "sendMessage", "applications", "application", "token", "user", "root",
	// "presenceSubscriptions", "accept", "startMessaging", "me", ... "" = any.
	Rel        string
	User       string // sip URI of the requesting user; "" = any
	Status     int    // HTTP status to answer; 0 with Delay only delays the normal answer
	Code       string // UCWA error code (default: the name of Status)
	Subcode    string
	RetryAfter time.Duration // sent as Retry-After (whole seconds) when > 0
	HTML       bool          // answer with a proxy-style text/html page instead of a UCWA error body
	Delay      time.Duration // delay the answer (real time)
	Drop       bool          // close the connection without answering
	Times      int           // how many matching requests (default 1)
}

// Inject arms f for the next f.Times matching requests. Faults are matched in the order they
// were injected.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	f.User = normURI(f.User)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// matchFault consumes and returns the first armed fault matching the request, if any.
func (s *Server) matchFault(method, rel, who string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Method == "" || strings.EqualFold(f.Method, method)) &&
			(f.Rel == "" || strings.EqualFold(f.Rel, rel)) &&
			(f.User == "" || f.User == who) {
			f.Times--
			c := *f
			if f.Times <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return &c
		}
	}
	return nil
}

// applyFault answers the request as f says; it returns false when the request should then be
// served normally (a pure delay).
func (s *Server) applyFault(w *recorder, r *http.Request, f *Fault) bool {
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
	code := f.Code
	if code == "" {
		code = codeName(f.Status)
	}
	writeErrorCode(w, f.Status, code, f.Subcode, "Injected fault.")
	return true
}

// Request is one entry of the request log.
type Request struct {
	Method string
	Path   string // path and query
	Rel    string // endpoint by link rel ("" = unknown path)
	User   string // sip URI of the token's user ("" = none)
	Status int    // answered status; -1 when the connection was dropped, 0 when the client went away
	Time   time.Time
}

// maxRequests bounds the request log; older entries are dropped.
const maxRequests = 10000

// Requests returns the request log, oldest first.
func (s *Server) Requests() []Request {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) record(r *http.Request, rt route, who string, status int) {
	req := Request{Method: r.Method, Path: r.URL.RequestURI(), Rel: rt.rel, User: who, Status: status, Time: s.clock.now()}
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
