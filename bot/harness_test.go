package bot

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/plugins"
	"github.com/ucwabot/ucwabot/plugins/builtin"
	"github.com/ucwabot/ucwabot/rules"
	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/boltstore"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

const (
	botURI   = "sip:bot@contoso.com"
	botPW    = "bot-secret-pw"
	aliceURI = "sip:alice@contoso.com"
	bobURI   = "sip:bob@contoso.com"
)

// echoRules answer every message with "echo: <text>".
const echoRules = `
rules:
  - name: echo
    on: [message.received]
    do:
      - echo: {prefix: "echo: "}
`

// testRegistry holds the plugins the engine tests use.
func testRegistry() *plugins.Registry {
	reg := plugins.NewRegistry()
	type echoConfig struct {
		Prefix string        `yaml:"prefix"`
		Delay  time.Duration `yaml:"delay"`
	}
	reg.Register("echo", plugins.Define(func(c echoConfig) (handlers.Handler, error) {
		return handlers.HandlerFunc(func(ctx context.Context, req *handlers.Request) error {
			if c.Delay > 0 {
				select {
				case <-time.After(c.Delay):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return req.Reply.Say(ctx, c.Prefix+req.Event.Message.Text)
		}), nil
	}))
	type panicConfig struct{}
	reg.Register("panic", plugins.Define(func(panicConfig) (handlers.Handler, error) {
		return handlers.HandlerFunc(func(ctx context.Context, req *handlers.Request) error {
			panic("boom")
		}), nil
	}))
	type commandConfig struct{}
	reg.Register("command", plugins.Define(func(commandConfig) (handlers.Handler, error) {
		return handlers.HandlerFunc(func(ctx context.Context, req *handlers.Request) error {
			switch text := req.Event.Message.Text; {
			case text == "html":
				return req.Reply.SayHTML(ctx, "<b>bold</b> move")
			case text == "typing":
				if err := req.Reply.Typing(ctx); err != nil {
					return err
				}
				return req.Reply.Say(ctx, "typed")
			case text == "invite bob":
				return req.Reply.Invite(ctx, bobURI)
			case text == "call nobody":
				return req.Reply.StartConversation(ctx, "sip:nobody@contoso.com", "hello", "hi nobody")
			case text == "call bob":
				return req.Reply.StartConversation(ctx, bobURI, "hello", "hi bob, alice sent me")
			case text == "watch bob":
				return req.Reply.Subscribe(ctx, bobURI)
			case text == "bye":
				return req.Reply.Leave(ctx)
			}
			return nil
		}), nil
	}))
	type countConfig struct{}
	reg.Register("count", plugins.Define(func(countConfig) (handlers.Handler, error) {
		return handlers.HandlerFunc(func(ctx context.Context, req *handlers.Request) error {
			var n int
			if _, err := req.State.Get("count", &n); err != nil {
				return err
			}
			return req.State.Set("count", n+1)
		}), nil
	}))
	return reg
}

type staticRules struct{ set *rules.Set }

func (s staticRules) Current() *rules.Set { return s.set }

// loadBuiltinRules is loadRules with the built-in plugins (reply, set,
// webhook, timer, ...) beside the test's own.
func loadBuiltinRules(t testing.TB, yaml string) *rules.Set {
	t.Helper()
	reg := testRegistry()
	builtin.RegisterAll(reg)
	set, err := rules.LoadBytes(rules.Options{Build: reg.Build}, "rules.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func loadRules(t testing.TB, yaml string) *rules.Set {
	t.Helper()
	set, err := rules.LoadBytes(rules.Options{Build: testRegistry().Build}, "rules.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("rules: %v", err)
	}
	t.Cleanup(func() { set.Close() })
	return set
}

// recorder is the Observer of the tests.
type recorder struct {
	mu     sync.Mutex
	cond   *sync.Cond
	events []event.Event
	fired  [][]string
	errs   []error
}

func newRecorder() *recorder {
	r := &recorder{}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *recorder) EventHandled(ev event.Event, fired []string, err error) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.fired = append(r.fired, fired)
	if err != nil {
		r.errs = append(r.errs, err)
	}
	r.cond.Broadcast()
	r.mu.Unlock()
}

func (r *recorder) snapshot() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Event(nil), r.events...)
}

// waitFor waits until pred holds on the events handled so far.
func (r *recorder) waitFor(t testing.TB, what string, d time.Duration, pred func([]event.Event) bool) []event.Event {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		evs := r.snapshot()
		if pred(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; handled: %s", what, describe(evs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasKind(k event.Kind) func([]event.Event) bool {
	return func(evs []event.Event) bool {
		for _, e := range evs {
			if e.Kind == k {
				return true
			}
		}
		return false
	}
}

func describe(evs []event.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %s %s local=%v %q", e.Kind, e.Participant.URI, e.Participant.Local, e.Message.Text)
	}
	return b.String()
}

func newSim(t testing.TB, scale float64) *ucwasim.Server {
	t.Helper()
	return newSimOptions(t, ucwasim.Options{TimeScale: scale})
}

// newSimOptions is newSim with the simulator's options given whole.
func newSimOptions(t testing.TB, o ucwasim.Options) *ucwasim.Server {
	t.Helper()
	s, err := ucwasim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, u := range []struct{ uri, pw, name string }{
		{botURI, botPW, "Echo Bot"}, {aliceURI, "alice-pw", "Alice Liddell"}, {bobURI, "bob-pw", "Bob Builder"},
	} {
		if err := s.AddUser(u.uri, u.pw, u.name); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func openBolt(t testing.TB, path string) store.Store {
	t.Helper()
	st, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func tempBolt(t testing.TB) store.Store {
	t.Helper()
	st := openBolt(t, filepath.Join(t.TempDir(), "bot.db"))
	t.Cleanup(func() { st.Close() })
	return st
}

// running is an engine started by a test.
type running struct {
	e      *Engine
	obs    *recorder
	cancel context.CancelFunc
	done   chan error
}

func testConfig(sim *ucwasim.Server) Config {
	return Config{
		Accounts:         []Account{{Address: botURI, DiscoveryURL: sim.DiscoveryURL(), InsecureHTTP: true, Password: botPW}},
		Workers:          4,
		QueueSize:        32,
		HandlerTimeout:   5 * time.Second,
		PollTimeout:      3 * time.Second,
		LeaseTTL:         time.Second,
		DrainTimeout:     3 * time.Second,
		BackoffMax:       200 * time.Millisecond,
		ActivityInterval: 3 * time.Minute,
	}
}

func testLogger(t testing.TB) logrus.FieldLogger {
	l := logrus.New()
	l.SetLevel(logrus.DebugLevel)
	l.SetOutput(testWriter{t})
	return l
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// start runs an engine until the test ends; opts come after the test's
// own (a logger, an HTTP client).
func start(t testing.TB, cfg Config, st store.Store, set *rules.Set, opts ...Option) *running {
	t.Helper()
	obs := newRecorder()
	e, err := New(cfg, append([]Option{WithStore(st), WithRules(staticRules{set}), WithObserver(obs), WithLogger(testLogger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{e: e, obs: obs}
	r.launch(t)
	return r
}

// launch runs the engine until the test ends and waits until it is ready.
func (r *running) launch(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.e.Run(ctx) }()
	t.Cleanup(r.stop)
	liveEngines.add(t, r)
	r.waitReady(t)
}

// liveEngines holds the engines each test launched, so that waitReplies
// can tell when they have handled everything they took in.
var liveEngines = engineSet{m: map[testing.TB][]*running{}}

type engineSet struct {
	mu sync.Mutex
	m  map[testing.TB][]*running
}

func (s *engineSet) add(t testing.TB, r *running) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[t]; !ok {
		t.Cleanup(func() {
			s.mu.Lock()
			delete(s.m, t)
			s.mu.Unlock()
		})
	}
	s.m[t] = append(s.m[t], r)
}

func (s *engineSet) of(t testing.TB) []*running {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*running(nil), s.m[t]...)
}

// settled reports whether every engine t launched that still runs has
// an empty inbox and nothing in flight: every event it stored has been
// handled, so a reply such an event causes has been sent. An engine that
// has stopped, or whose store is closed, does not count.
func settled(t testing.TB) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for i, r := range liveEngines.of(t) {
		select {
		case <-r.done:
			r.done <- nil // put it back for stop
			continue
		default:
		}
		for _, a := range r.e.accounts {
			n, err := r.e.store.Len(ctx, a.addr)
			if err != nil {
				continue
			}
			if q := a.inflightLen(); n > 0 || q > 0 {
				return false, fmt.Sprintf("engine %d account %s: %d inbox entries, %d in flight", i, a.addr, n, q)
			}
		}
	}
	return true, ""
}

// stop cancels the engine and waits for Run to return. An engine that
// does not stop within a minute is a bug: the test binary panics with every
// goroutine's stack instead of hanging until the test timeout.
func (r *running) stop() {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(time.Minute):
		buf := make([]byte, 1<<22)
		n := runtime.Stack(buf, true)
		panic("bot: Run did not return a minute after its context was cancelled\n" + string(buf[:n]))
	}
	r.done <- nil
}

func (r *running) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := r.e.Ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// botSaid returns the texts the bot sent in conversation conv.
func botSaid(sim *ucwasim.Server, convID string) []string {
	var out []string
	for _, m := range sim.Sent(botURI) {
		if convID == "" || m.Conversation == convID {
			out = append(out, m.Text)
		}
	}
	return out
}

// waitReplies waits until the bot said every text of want in conv, then
// checks it said each exactly once.
func waitReplies(t testing.TB, sim *ucwasim.Server, convID string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := botSaid(sim, convID)
		missing := false
		for _, w := range want {
			if count(got, w) == 0 {
				missing = true
			}
		}
		if !missing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bot said %q, want all of %q", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A duplicate comes from an event handled twice; once every engine has
	// handled all it stored, such a reply would have been sent.
	for {
		ok, why := settled(t)
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("engines did not settle after the replies %q: %s", want, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := botSaid(sim, convID)
	for _, w := range want {
		if n := count(got, w); n != 1 {
			t.Fatalf("bot said %q %d times (all: %q)", w, n, got)
		}
	}
}

func count(xs []string, x string) int {
	n := 0
	for _, s := range xs {
		if s == x {
			n++
		}
	}
	return n
}

// crashable runs an engine built with opts until the test calls crash,
// which stops it as a SIGKILL would: no goodbye to the server, no
// handover, nothing written after.
func crashable(t *testing.T, cfg Config, opts ...Option) (e *Engine, crash func()) {
	t.Helper()
	e, err := New(cfg, append([]Option{WithLogger(testLogger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	crash = func() {
		once.Do(func() {
			e.testCrash()
			cancel()
			<-done
		})
	}
	t.Cleanup(crash)
	return e, crash
}
