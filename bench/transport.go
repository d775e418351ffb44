package bench

import (
	"net/http"
	"net/http/httptest"
)

// Transports between the engine and the simulator.
const (
	// TransportHTTP is the engine's own HTTP client over loopback TCP, as
	// against a real server.
	TransportHTTP = "http"
	// TransportInProc calls the simulator's handler from the engine's
	// HTTP client without a socket or HTTP framing: the engine, its UCWA
	// client and the simulator's handlers do all they do, minus the wire.
	TransportInProc = "inproc"
)

// inproc is an http.RoundTripper that serves each request with h in the
// calling goroutine and returns what it answered.
type inproc struct{ h http.Handler }

func (t inproc) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.RequestURI = req.URL.RequestURI()
	r.Host = req.URL.Host
	r.RemoteAddr = "127.0.0.1:1"
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	if r.Body == nil {
		r.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	if req.Body != nil {
		_ = req.Body.Close()
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
