package bot

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// memListener is an in-memory network for the simulator and the engine's
// HTTP client: real HTTP over net.Pipe connections. Every wait on it is a
// channel operation, so inside a testing/synctest bubble time advances
// only when the engine, the simulator and the test all wait: tests of
// keep-alive timings run minutes and hours of fake time in an instant,
// the same at any machine load.
type memListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newMemListener() *memListener {
	return &memListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr{} }

// dial connects to the listener, whatever the address.
func (l *memListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "ucwa.test:80" }

// newMemSim is newSim on an in-memory network, at the simulated clock's
// natural pace (time scale 1): inside a synctest bubble its clock is the
// bubble's fake clock. It returns the HTTP client that reaches it.
func newMemSim(t *testing.T) (*ucwasim.Server, *http.Client) {
	t.Helper()
	l := newMemListener()
	sim := ucwasim.NewWithListener(l, ucwasim.Options{})
	tr := &http.Transport{DialContext: l.dial}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		sim.Close()
	})
	for _, u := range []struct{ uri, pw, name string }{
		{botURI, botPW, "Echo Bot"}, {aliceURI, "alice-pw", "Alice Liddell"}, {bobURI, "bob-pw", "Bob Builder"},
	} {
		if err := sim.AddUser(u.uri, u.pw, u.name); err != nil {
			t.Fatal(err)
		}
	}
	return sim, &http.Client{Transport: tr}
}

// quietLogger logs warnings and worse to nowhere: a test in a synctest
// bubble must not log through the t of another goroutine's bubble, and
// hours of fake time make long logs.
func quietLogger() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	l.SetLevel(logrus.WarnLevel)
	return l
}

// runFake runs body in a testing/synctest bubble against an engine on
// newMemSim, with the production timings (ActivityInterval 3m, P-GET
// timeout 3m, lease TTL 15s) changed by tune. Time in the bubble is fake:
// body sleeps for minutes and hours and asserts on what the simulator saw,
// and no machine load can stretch a gap.
func runFake(t *testing.T, tune func(*Config), body func(t *testing.T, sim *ucwasim.Server, r *running)) {
	synctest.Test(t, func(t *testing.T) {
		sim, client := newMemSim(t)
		cfg := testConfig(sim)
		cfg.ActivityInterval = 3 * time.Minute
		cfg.PollTimeout = 3 * time.Minute
		cfg.LeaseTTL = DefaultLeaseTTL // each renewal is a store write
		if tune != nil {
			tune(&cfg)
		}
		obs := newRecorder()
		e, err := New(cfg, WithStore(tempBolt(t)), WithRules(staticRules{loadRules(t, echoRules)}), WithLogger(quietLogger()), WithHTTPClient(client), WithObserver(obs))
		if err != nil {
			t.Fatal(err)
		}
		r := &running{e: e, obs: obs}
		r.launch(t)
		body(t, sim, r)
	})
}
