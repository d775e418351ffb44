package bot

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/ucwa"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// botRequests returns the requests the bot's token made, oldest first.
func botRequests(sim *ucwasim.Server) []ucwasim.Request {
	var out []ucwasim.Request
	for _, r := range sim.Requests() {
		if r.User == botURI || r.Rel == "token" || r.Rel == "root" || r.Rel == "user" {
			out = append(out, r)
		}
	}
	return out
}

// logHook keeps every entry logged at or above Warn, for assertions on
// fields.
type logHook struct {
	mu      sync.Mutex
	entries []*logrus.Entry
}

func (h *logHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *logHook) Fire(e *logrus.Entry) error {
	h.mu.Lock()
	h.entries = append(h.entries, &logrus.Entry{Message: e.Message, Level: e.Level, Data: copyFields(e.Data)})
	h.mu.Unlock()
	return nil
}

func copyFields(d logrus.Fields) logrus.Fields {
	out := logrus.Fields{}
	for k, v := range d {
		out[k] = v
	}
	return out
}

// find returns the entries whose message contains msg.
func (h *logHook) find(msg string) []*logrus.Entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*logrus.Entry
	for _, e := range h.entries {
		if strings.Contains(e.Message, msg) {
			out = append(out, e)
		}
	}
	return out
}

// startLogged starts an engine like start, with hook on its logger, and
// does not wait for it to be ready.
func startLogged(t *testing.T, cfg Config, st store.Store, hook *logHook) *running {
	t.Helper()
	l := logrus.New()
	l.SetLevel(logrus.TraceLevel)
	l.SetOutput(testWriter{t})
	if hook != nil {
		l.AddHook(hook)
	}
	obs := newRecorder()
	e, err := New(cfg, WithStore(st), WithRules(staticRules{loadRules(t, echoRules)}), WithObserver(obs), WithLogger(l))
	if err != nil {
		t.Fatal(err)
	}
	r := &running{e: e, obs: obs}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.e.Run(ctx) }()
	t.Cleanup(r.stop)
	liveEngines.add(t, r)
	return r
}

// Issue 16: makeMeAvailable succeeded, the GET of the application after it
// failed with 500; the engine must poll at once instead of treating the
// whole step as failed and creating an application again.
func TestEngine_polls_at_once_when_only_the_read_after_makeMeAvailable_fails(t *testing.T) {
	sim := newSim(t, 1)
	cfg := testConfig(sim)
	// A failed step would be retried after seconds, not milliseconds.
	cfg.BackoffInitial, cfg.BackoffMax = 5*time.Second, 5*time.Second
	sim.Inject(ucwasim.Fault{Method: "GET", Rel: "application", User: botURI, Status: 500})
	r := startLogged(t, cfg, tempBolt(t), nil)
	r.waitReady(t)

	// The request log from the 500 to the first P-GET: no second POST
	// applications nor makeMeAvailable in between.
	reqs := botRequests(sim)
	fault := -1
	for i, q := range reqs {
		if q.Rel == "application" && q.Method == "GET" && q.Status == 500 {
			fault = i
			break
		}
	}
	if fault < 0 {
		t.Fatalf("the injected 500 on the application's GET was not met: %+v", reqs)
	}
	if reqs[fault-1].Rel != "makeMeAvailable" || reqs[fault-1].Status/100 != 2 {
		t.Fatalf("the request before the 500 was %+v, want a successful makeMeAvailable", reqs[fault-1])
	}
	for _, q := range reqs[fault+1:] {
		if q.Rel == "events" {
			break
		}
		if q.Method == "POST" && (q.Rel == "applications" || q.Rel == "makeMeAvailable") {
			t.Fatalf("after the 500 the engine sent %s %s before polling: it redid the step", q.Method, q.Rel)
		}
	}
	conv, err := sim.Invite(aliceURI, botURI, "hello")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: hello")
	if n := countRequests(sim, "applications"); n != 1 {
		t.Fatalf("POST applications %d times, want 1", n)
	}
	// The links that appear after makeMeAvailable were read later: the
	// keep-alive's reportMyActivity went through.
	waitUntil(t, "a reportMyActivity", func() bool { return countRequests(sim, "reportMyActivity") > 0 })
}

// Issue 16/14: every UCWA request is bounded by RequestTimeout, so a
// stalled one keeps the account offline only its timeout plus backoff.
func TestEngine_a_stalled_request_keeps_the_account_offline_only_its_timeout(t *testing.T) {
	const timeout = 400 * time.Millisecond
	cases := []struct {
		name   string
		method string
		rel    string
	}{
		{"token", "POST", "token"},
		{"POST applications", "POST", "applications"},
		{"makeMeAvailable", "POST", "makeMeAvailable"},
		{"own presence", "GET", "presence"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sim := newSim(t, 1)
			cfg := testConfig(sim)
			cfg.RequestTimeout = timeout
			// Without the timeout the stall lasts an hour: the engine
			// would never get ready and waitReady fails after 10 s.
			sim.Inject(ucwasim.Fault{Method: c.method, Rel: c.rel, Delay: time.Hour})
			r := startLogged(t, cfg, tempBolt(t), nil)
			r.waitReady(t)
			stalled, next := stallAndNext(t, sim, c.method, c.rel)
			gap := next.Time.Sub(stalled.Time)
			t.Logf("%s %s stalled at %s; next request %s %s %v later", c.method, c.rel, stalled.Time.Format("15:04:05.000"), next.Method, next.Rel, gap)
			if limit := timeout + cfg.BackoffMax + 2*time.Second; gap > limit {
				t.Fatalf("the account waited %v after the stalled %s, want at most %v", gap, c.rel, limit)
			}
		})
	}
	t.Run("reportMyActivity", func(t *testing.T) {
		sim := newSim(t, 1)
		cfg := testConfig(sim)
		cfg.RequestTimeout = timeout
		cfg.ActivityInterval = 2 * time.Second
		r := startLogged(t, cfg, tempBolt(t), nil)
		r.waitReady(t)
		before := countRequests(sim, "reportMyActivity")
		sim.Inject(ucwasim.Fault{Method: "POST", Rel: "reportMyActivity", Delay: time.Hour})
		// The stalled report is abandoned at the timeout and retried
		// within its period; later reports keep their schedule.
		waitUntil(t, "two reports after the stalled one", func() bool {
			return countRequests(sim, "reportMyActivity") >= before+3
		})
		stalled, next := stallAndNext(t, sim, "POST", "reportMyActivity")
		if gap := next.Time.Sub(stalled.Time); gap > timeout+cfg.BackoffMax+2*time.Second {
			t.Fatalf("%v between the stalled report and the next request", gap)
		}
	})
}

// stallAndNext returns the request that ended without an answer (status
// 0: the client gave up) and the bot's next request.
func stallAndNext(t *testing.T, sim *ucwasim.Server, method, rel string) (ucwasim.Request, ucwasim.Request) {
	t.Helper()
	var reqs []ucwasim.Request
	defer func() {
		if t.Failed() {
			for _, q := range reqs {
				t.Logf("request %s %s %s %d", q.Method, q.Rel, q.Path, q.Status)
			}
		}
	}()
	waitUntil(t, "the stalled "+rel+" abandoned and another request", func() bool {
		reqs = sim.Requests()
		for i, q := range reqs {
			if q.Rel == rel && q.Method == method && q.Status == 0 {
				return i+1 < len(reqs)
			}
		}
		return false
	})
	for i, q := range reqs {
		if q.Rel == rel && q.Method == method && q.Status == 0 {
			return q, reqs[i+1]
		}
	}
	panic("unreachable")
}

// Issue 16: one PGetReplaced while this instance holds a valid lease (a
// late P-GET of a paused former holder) must not stop the account.
func TestEngine_one_PGetReplaced_under_its_own_lease_polls_again(t *testing.T) {
	sim := newSim(t, 1)
	r := start(t, testConfig(sim), tempBolt(t), loadRules(t, echoRules))
	conv, err := sim.Invite(aliceURI, botURI, "before")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: before")
	sim.Inject(ucwasim.Fault{Rel: "events", User: botURI, Status: 409, Code: "Conflict", Subcode: "PGetReplaced"})
	waitUntil(t, "the 409 met", func() bool { return counterValue(t, r.e, "pget_replaced_own") == 1 })
	if err := conv.Say(aliceURI, "after"); err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: before", "echo: after")
	if st := r.e.Status()[0]; st.State != stateRunning || !st.Owner {
		t.Fatalf("after one PGetReplaced: %+v, want running and owner", st)
	}
	r.waitReady(t)
}

// Issue 16: a foreign client that keeps taking the event channel is never
// fought: the account stops, alarms, is not ready, sends no P-GET during
// the cool-down, and tries again after it, so it does not stay dead.
func TestEngine_a_foreign_client_on_the_event_channel_stops_the_account_for_the_cooldown_only(t *testing.T) {
	sim := newSim(t, 1)
	cfg := testConfig(sim)
	cfg.ReplacedCooldown = 1500 * time.Millisecond
	r := start(t, cfg, tempBolt(t), loadRules(t, echoRules))
	// Two replacements in a row: the first is polled again at once, the
	// second is the foreign client.
	sim.Inject(ucwasim.Fault{Rel: "events", User: botURI, Status: 409, Code: "Conflict", Subcode: "PGetReplaced", Times: 2})
	waitUntil(t, "account replaced", func() bool { return r.e.Status()[0].State == stateReplaced })
	if err := r.e.Ready(); !errors.Is(err, errReplaced) {
		t.Fatalf("Ready = %v, want the replaced event channel", err)
	}
	if n := alarmValue(t, r.e, "pget_replaced"); n < 1 {
		t.Fatalf("pget_replaced alarm counted %v times", n)
	}
	r.waitReady(t)
	conv, err := sim.Invite(aliceURI, botURI, "back")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: back")

	// No P-GET between the second 409 and the end of the cool-down.
	var second *ucwasim.Request
	reqs := sim.Requests()
	n409 := 0
	for i := range reqs {
		if reqs[i].Rel == "events" && reqs[i].Status == 409 {
			if n409++; n409 == 2 {
				second = &reqs[i]
				for _, q := range reqs[i+1:] {
					if q.Rel == "events" && q.Time.Sub(second.Time) < cfg.ReplacedCooldown {
						t.Fatalf("P-GET %v after the foreign client's 409, inside the %v cool-down", q.Time.Sub(second.Time), cfg.ReplacedCooldown)
					}
					if q.Rel == "events" {
						break
					}
				}
			}
		}
	}
	if second == nil {
		t.Fatalf("%d 409 answers on the event channel, want 2", n409)
	}
}

// Issue 14: a wrong password (400 invalid_grant) is an alarm, not ready
// with cause credentials, and retried only every SlowRetry, never at
// backoff speed (Active Directory lockout).
func TestEngine_refused_credentials_alarm_and_are_retried_only_slowly(t *testing.T) {
	sim := newSim(t, 1)
	cfg := testConfig(sim)
	cfg.Accounts[0].Password = "wrong-password"
	cfg.BackoffInitial, cfg.BackoffMax = 10*time.Millisecond, 20*time.Millisecond
	cfg.SlowRetry = time.Second
	hook := &logHook{}
	r := startLogged(t, cfg, tempBolt(t), hook)
	waitUntil(t, "a second token request", func() bool {
		n := 0
		for _, q := range sim.Requests() {
			if q.Rel == "token" {
				n++
			}
		}
		return n >= 2
	})
	var tokens []ucwasim.Request
	for _, q := range sim.Requests() {
		if q.Rel == "token" {
			tokens = append(tokens, q)
		}
	}
	if tokens[0].Status != 400 {
		t.Fatalf("token answer %d, want 400 invalid_grant", tokens[0].Status)
	}
	if gap := tokens[1].Time.Sub(tokens[0].Time); gap < 800*time.Millisecond {
		t.Fatalf("password sent again %v after invalid_grant, want at least SlowRetry (1s less its jitter)", gap)
	}
	err := r.e.Ready()
	if err == nil || !strings.Contains(err.Error(), "cause=credentials") {
		t.Fatalf("Ready = %v, want not ready with cause=credentials", err)
	}
	if strings.Contains(err.Error(), "wrong-password") {
		t.Fatal("the readiness error carries the password")
	}
	if n := alarmValue(t, r.e, "credentials"); n < 1 {
		t.Fatalf("credentials alarm counted %v times", n)
	}
	if n := counterValue(t, r.e, "credentials"); n < 1 {
		t.Fatalf("recoveries with cause credentials: %v", n)
	}
	if es := hook.find("ALARM: the server refuses"); len(es) == 0 || es[0].Data["cause"] != "credentials" {
		t.Fatalf("alarm log lines %+v, want one with cause=credentials", es)
	}
}

// Issue 16: 410 TooManyApplications is not retried at backoff speed: an
// alarm with the subcode in the log, not ready meanwhile, the next POST
// applications after SlowRetry.
func TestEngine_TooManyApplications_alarms_and_retries_slowly(t *testing.T) {
	sim := newSim(t, 1)
	cfg := testConfig(sim)
	cfg.BackoffInitial, cfg.BackoffMax = 10*time.Millisecond, 20*time.Millisecond
	cfg.SlowRetry = time.Second
	sim.Inject(ucwasim.Fault{Method: "POST", Rel: "applications", Status: 410, Code: "Gone", Subcode: "TooManyApplications"})
	hook := &logHook{}
	r := startLogged(t, cfg, tempBolt(t), hook)
	waitUntil(t, "the alarm", func() bool { return alarmValue(t, r.e, "too_many_applications") == 1 })
	if err := r.e.Ready(); err == nil || !strings.Contains(err.Error(), "too_many_applications") {
		t.Fatalf("Ready = %v, want not ready naming too_many_applications", err)
	}
	es := hook.find("ALARM: the server refuses")
	if len(es) == 0 || es[0].Data["subcode"] != "TooManyApplications" || es[0].Data["status"] != 410 {
		t.Fatalf("alarm log lines %+v, want status 410 and subcode TooManyApplications", es)
	}
	r.waitReady(t)
	var posts []ucwasim.Request
	for _, q := range sim.Requests() {
		if q.Rel == "applications" && q.Method == "POST" {
			posts = append(posts, q)
		}
	}
	if len(posts) != 2 {
		t.Fatalf("%d POST applications, want the refused one and one after the slow retry", len(posts))
	}
	if gap := posts[1].Time.Sub(posts[0].Time); gap < 800*time.Millisecond {
		t.Fatalf("POST applications again %v after 410 TooManyApplications, want at least SlowRetry", gap)
	}
}

// Issue 16: every UCWA request checks the lease just before it leaves; an
// instance whose lease expired by its own clock sends nothing, and the
// tenure's context is cancelled for the handlers.
func TestEngine_sends_nothing_once_its_lease_expired_and_cancels_the_tenure(t *testing.T) {
	sim := newSim(t, 1)
	st := &pausedRenewals{Store: tempBolt(t)}
	cfg := testConfig(sim)
	r := startLogged(t, cfg, st, nil)
	r.waitReady(t)
	a := r.e.accounts[0]
	tenure := a.leaseCtx()
	if tenure.Err() != nil {
		t.Fatal("the running account's lease context is already done")
	}
	app, _ := a.currentApp()
	// What a handler of the tenure would run under.
	hctx, done := underLease(context.Background(), tenure)
	defer done()

	// Renewals stop reaching the store (a paused process, a partition):
	// the lease expires by this instance's clock.
	st.pause.Store(true)
	select {
	case <-tenure.Done():
	case <-time.After(cfg.LeaseTTL + 5*time.Second):
		t.Fatalf("lease context not cancelled %v after renewals stopped (TTL %v)", cfg.LeaseTTL+5*time.Second, cfg.LeaseTTL)
	}
	if c := context.Cause(tenure); !errors.Is(c, errLeaseLost) {
		t.Fatalf("tenure ended with %v, want errLeaseLost", c)
	}
	select {
	case <-hctx.Done():
	case <-time.After(time.Second):
		t.Fatal("a context under the lease outlived the lease")
	}
	if c := context.Cause(hctx); !errors.Is(c, errLeaseLost) {
		t.Fatalf("handler context ended with %v, want errLeaseLost", c)
	}
	if a.leaseCtx().Err() == nil {
		t.Fatal("leaseCtx without a tenure is not done")
	}

	// A request for the account now stops before it leaves.
	n := len(sim.Requests())
	_, err := a.client.Get(context.Background(), app.URL)
	if !errors.Is(err, ucwa.ErrNotSent) || !errors.Is(err, errLeaseLost) {
		t.Fatalf("GET without the lease: %v, want ErrNotSent and errLeaseLost", err)
	}
	u, err := url.Parse(app.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range sim.Requests()[n:] {
		if strings.HasPrefix(q.Path, u.Path) && q.Method == "GET" {
			t.Fatalf("the request reached the server: %+v", q)
		}
	}
	st.pause.Store(false)
	r.waitReady(t) // renewals back: the account is driven again
}

// pausedRenewals is a store whose lease renewals fail while pause is set.
type pausedRenewals struct {
	store.Store
	pause atomic.Bool
}

func (s *pausedRenewals) AcquireLease(ctx context.Context, account, owner string, ttl time.Duration) (store.Lease, error) {
	if s.pause.Load() {
		return store.Lease{}, errors.New("acquire lost on the way (test)")
	}
	return s.Store.AcquireLease(ctx, account, owner, ttl)
}

func (s *pausedRenewals) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	if s.pause.Load() {
		return store.Lease{}, errors.New("renewal lost on the way (test)")
	}
	return s.Store.RenewLease(ctx, l, ttl)
}

// hangingStore is a store whose Ping hangs until its context ends while
// hang is set, as a paused Redis does.
type hangingStore struct {
	store.Store
	hang atomic.Bool
}

func (s *hangingStore) Ping(ctx context.Context) error {
	if s.hang.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.Store.Ping(ctx)
}

// Issue 16: the account is not ready within 2 s of the store ceasing to
// answer (the health probe has a short timeout), and ready again when it
// answers. Samples taken 2 s or more after the hang must all say not ready,
// however late the sampling loop runs on a loaded machine.
func TestEngine_not_ready_within_2s_of_the_store_ceasing_to_answer(t *testing.T) {
	sim := newSim(t, 1)
	st := &hangingStore{Store: tempBolt(t)}
	cfg := testConfig(sim)
	cfg.LeaseTTL = time.Minute // the lease outlives the hang
	r := startLogged(t, cfg, st, nil)
	r.waitReady(t)
	a := r.e.accounts[0]

	st.hang.Store(true)
	hung := time.Now()
	var notReady error
	for notReady == nil {
		at := time.Now()
		err := a.ready()
		if err == nil && at.Sub(hung) >= 2*time.Second {
			t.Fatalf("ready %v after the store stopped answering", at.Sub(hung))
		}
		if at.Sub(hung) > 10*time.Second {
			t.Fatal("never not ready")
		}
		notReady = err
		time.Sleep(20 * time.Millisecond)
	}
	if !errors.Is(notReady, errStoreSilent) {
		t.Fatalf("not ready for another reason: %v", notReady)
	}
	t.Logf("not ready %v after the hang: %v", time.Since(hung).Round(time.Millisecond), notReady)
	st.hang.Store(false)
	r.waitReady(t)
}

// Issue 14: a session change logs one line at debug (or above) with the
// step and the account, as docs/operations.md says.
func TestEngine_logs_each_session_step(t *testing.T) {
	sim := newSim(t, 1)
	cfg := testConfig(sim)
	cfg.Accounts[0].Subscribe = []string{aliceURI}
	hook := &logHook{}
	r := startLogged(t, cfg, tempBolt(t), hook)
	r.waitReady(t)
	waitUntil(t, "the subscription", func() bool { return len(sim.Subscriptions(botURI)) > 0 })
	// A recovery: the application is gone, one is created again.
	sim.Inject(ucwasim.Fault{Method: "GET", Rel: "events", User: botURI, Status: 404, Subcode: "ApplicationNotFound"})
	waitUntil(t, "a second application", func() bool { return countRequests(sim, "applications") == 2 })
	r.waitReady(t)
	steps := map[string]int{}
	hook.mu.Lock()
	for _, e := range hook.entries {
		if s, ok := e.Data["step"].(string); ok {
			if e.Data["account"] != botURI {
				t.Errorf("%q logged without the account: %v", e.Message, e.Data)
			}
			steps[s]++
		}
		if e.Message == "event channel: application gone; creating a new one" && e.Data["cause"] != "application_gone" {
			t.Errorf("recovery logged without its cause: %v", e.Data)
		}
	}
	hook.mu.Unlock()
	for _, s := range []string{"sign_in", "application_created", "available", "subscription_created"} {
		if steps[s] < 1 {
			t.Errorf("no %q line; steps logged: %v", s, steps)
		}
	}
	if steps["application_created"] < 2 {
		t.Errorf("the recreated application was not logged: %v", steps)
	}
}

// A single 410 without subcode on the token endpoint (a front's passing
// fault) is tried again at backoff speed: the account answers at once
// instead of waiting out the slow retry. A refusal that stays raises the
// alarm after the tries.
func TestEngine_a_passing_refusal_is_tried_again_before_the_alarm(t *testing.T) {
	sim := newSim(t, 1)
	cfg := testConfig(sim)
	cfg.BackoffInitial, cfg.BackoffMax = 10*time.Millisecond, 20*time.Millisecond
	cfg.SlowRetry = time.Hour
	sim.Inject(ucwasim.Fault{Rel: "token", Status: 410, Code: "Gone", Times: 1})
	r := start(t, cfg, tempBolt(t), loadRules(t, echoRules))
	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: m0")
	if n := alarmValue(t, r.e, "refused"); n != 0 {
		t.Fatalf("a passing refusal raised the alarm %v times", n)
	}

	sim2 := newSim(t, 1)
	cfg2 := testConfig(sim2)
	cfg2.BackoffInitial, cfg2.BackoffMax = 10*time.Millisecond, 20*time.Millisecond
	cfg2.SlowRetry = time.Hour
	sim2.Inject(ucwasim.Fault{Rel: "token", Status: 410, Code: "Gone", Times: -1})
	e, _ := crashable(t, cfg2, WithStore(tempBolt(t)), WithRules(staticRules{loadRules(t, echoRules)}))
	waitUntil(t, "the alarm after the tries", func() bool { return alarmValue(t, e, "refused") == 1 })
	tokens := 0
	for _, q := range sim2.Requests() {
		if q.Rel == "token" {
			tokens++
		}
	}
	if tokens != refusedTries {
		t.Fatalf("%d token requests before the alarm, want %d", tokens, refusedTries)
	}
}
