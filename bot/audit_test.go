package bot

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

const commandRules = `
rules:
  - name: command
    on: [message.received]
    do:
      - command: {}
`

func TestEngine_an_outgoing_conversation_that_fails_yields_message_failed_with_its_reason(t *testing.T) {
	cases := []struct {
		name    string
		scale   float64
		command string
		setup   func(sim *ucwasim.Server)
		to      string
		reason  string
	}{
		{"unknown person", 1, "call nobody", func(*ucwasim.Server) {}, "sip:nobody@contoso.com", "NotFound: DestinationNotFound"},
		{"no answer", 60, "call bob", func(s *ucwasim.Server) { s.SetAutoAccept(bobURI, false) }, bobURI, "Timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sim := newSim(t, c.scale)
			c.setup(sim)
			cfg := testConfig(sim)
			cfg.ServerTimeScale = c.scale
			cfg.ActivityInterval = time.Duration(float64(3*time.Minute) / c.scale)
			r := start(t, cfg, tempBolt(t), loadRules(t, commandRules))
			if _, err := sim.Invite(aliceURI, botURI, c.command); err != nil {
				t.Fatal(err)
			}
			evs := r.obs.waitFor(t, "message.failed", 15*time.Second, hasKind(event.MessageFailed))
			var failed event.Event
			for _, e := range evs {
				if e.Kind == event.MessageFailed {
					failed = e
				}
			}
			if !strings.Contains(failed.Message.Reason, c.reason) {
				t.Fatalf("message.failed reason %q, want it to contain %q", failed.Message.Reason, c.reason)
			}
			if failed.Message.Direction != "Outgoing" || failed.Conversation.ID == "" || failed.Time.IsZero() || failed.ID == "" {
				t.Fatalf("message.failed lacks direction, conversation, time or id: %+v", failed)
			}
			// The failed conversation is the one the bot started with the person.
			var target *ucwasim.Conversation
			for _, cv := range sim.Conversations(botURI) {
				for _, p := range cv.Participants() {
					if p == c.to {
						target = cv
					}
				}
			}
			if target == nil {
				for _, cv := range sim.Conversations(botURI) {
					if strings.HasSuffix(failed.Conversation.ID, "/"+cv.ID()) {
						target = cv
					}
				}
			}
			if target == nil || !strings.HasSuffix(failed.Conversation.ID, target.ID()) {
				t.Fatalf("message.failed names conversation %q, not the bot's outgoing one", failed.Conversation.ID)
			}
		})
	}
}

func TestEngine_makes_itself_available_again_when_its_own_presence_drifts(t *testing.T) {
	runFake(t, nil, func(t *testing.T, sim *ucwasim.Server, r *running) {
		a := r.e.accounts[0]
		// Something else sets the bot's presence to Away over the real API.
		app, _ := a.currentApp()
		if err := a.client.SetMyPresence(context.Background(), app, "Away"); err != nil {
			t.Fatal(err)
		}
		if p := sim.Presence(botURI); p != "Away" {
			t.Fatalf("presence after the drift = %q, want Away", p)
		}
		driftAt := len(sim.Requests())
		// The next keep-alive round (every 3 minutes) finds the drift.
		time.Sleep(4 * time.Minute)
		if p, n := sim.Presence(botURI), counterValue(t, r.e, "presence_drift"); p != "Online" || n == 0 {
			t.Fatalf("presence %q, presence_drift counted %v times: the engine did not restore its availability", p, n)
		}
		// The repair: makeMeAvailable (the client reads the application
		// and posts makeMeAvailable when the server offers it), then the
		// availability set back to Online.
		mma, set := -1, -1
		for i, req := range sim.Requests()[driftAt:] {
			switch {
			case mma < 0 && (req.Rel == "makeMeAvailable" && req.Method == "POST" || req.Rel == "application" && req.Method == "GET"):
				mma = i
			case mma >= 0 && req.Rel == "presence" && req.Method == "POST" && req.Status/100 == 2:
				set = i
			}
		}
		if mma < 0 || set < 0 {
			t.Fatalf("after the drift: makeMeAvailable at %d, presence set at %d; want makeMeAvailable then the presence set", mma, set)
		}
		// It stays Online: the drift is repaired, not repeated.
		time.Sleep(10 * time.Minute)
		if p := sim.Presence(botURI); p != "Online" {
			t.Fatalf("presence %q 10 minutes after the repair", p)
		}
		if n := counterValue(t, r.e, "presence_drift"); n != 1 {
			t.Fatalf("presence_drift counted %v times, want once", n)
		}
		if st := r.e.Status()[0]; st.Presence != "Online" {
			t.Fatalf("Status presence %q, want Online", st.Presence)
		}
	})
}

// alarmValue reads the engine's alarms counter.
func alarmValue(t testing.TB, e *Engine, alarm string) float64 {
	var m dto.Metric
	if err := e.met.alarms.WithLabelValues(botURI, alarm).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestEngine_shutdown_declines_an_invitation_that_arrives_while_draining_and_sets_presence_before_deleting_the_application(t *testing.T) {
	sim := newSim(t, 1)
	cfg := testConfig(sim)
	cfg.Workers = 1
	r := start(t, cfg, tempBolt(t), loadRules(t, `
rules:
  - name: slow
    on: [message.received]
    do:
      - echo: {prefix: "slow ", delay: 800ms}
`))
	conv, err := sim.Invite(aliceURI, botURI, "hello")
	if err != nil {
		t.Fatal(err)
	}
	r.obs.waitFor(t, "conversation.started", 10*time.Second, hasKind(event.ConversationStarted))
	// The only worker is busy with alice's message; bob's invitation
	// waits in the queue behind it when shutdown begins.
	bobConv, err := sim.Invite(bobURI, botURI, "late")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.e.Status()[0].QueueDepth < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("bob's invitation never reached the queue (depth %d)", r.e.Status()[0].QueueDepth)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if len(r.obs.snapshot()) > 0 && hasKind(event.MessageReceived)(r.obs.snapshot()) {
		t.Fatal("alice's message was handled before shutdown began; the test needs it in flight")
	}
	shutdownAt := len(sim.Requests())
	r.cancel()
	<-r.done
	r.done <- nil

	if said := botSaid(sim, conv.ID()); len(said) != 1 || said[0] != "slow hello" {
		t.Fatalf("bot said %q to alice; want the in-flight reply drained", said)
	}
	if st := bobConv.State(); st == "Connected" {
		t.Fatalf("bob's conversation is %s: the invitation that came in while draining was accepted", st)
	}
	// Everything the bot asked after shutdown began, in order.
	var decline, presence, del = -1, -1, -1
	for i, req := range sim.Requests()[shutdownAt:] {
		switch {
		case req.Rel == "accept":
			t.Fatalf("the bot accepted an invitation while draining: %+v", req)
		case req.Rel == "decline" && req.Method == "POST" && req.Status/100 == 2:
			decline = i
		case req.Rel == "presence" && req.Method == "POST" && req.Status/100 == 2:
			presence = i
		case req.Rel == "application" && req.Method == "DELETE" && req.Status/100 == 2:
			del = i
		}
	}
	if decline < 0 || presence < 0 || del < 0 {
		t.Fatalf("after shutdown began: decline at %d, presence at %d, DELETE application at %d; want all three", decline, presence, del)
	}
	if !(decline < presence && presence < del) {
		t.Fatalf("order after shutdown: decline %d, presence %d, DELETE application %d; want decline, then presence, then delete", decline, presence, del)
	}
	if p := sim.Presence(botURI); p == "Online" {
		t.Fatalf("bot presence %q after shutdown", p)
	}
}

// Half an hour in which every other reportMyActivity is throttled three
// times with a Retry-After of ten minutes: the bot still reports well
// inside the server's four minutes. The run is in a synctest bubble on an
// in-memory network: the half hour is fake time, which passes only when
// every goroutine waits, so machine load cannot stretch a gap.
func TestEngine_reports_activity_well_inside_four_minutes_under_throttling(t *testing.T) {
	runFake(t, func(c *Config) { c.ActivityInterval = 2 * time.Minute }, func(t *testing.T, sim *ucwasim.Server, r *running) {
		begin := sim.Now()
		for sim.Now().Sub(begin) < 30*time.Minute {
			sim.Inject(ucwasim.Fault{Rel: "reportMyActivity", User: botURI, Status: 503, Code: "ServiceUnavailable", RetryAfter: 10 * time.Minute, Times: 3})
			time.Sleep(4 * time.Minute)
		}
		var ok []time.Time
		throttled := 0
		for _, req := range sim.Requests() {
			if req.Rel != "reportMyActivity" || req.Time.Before(begin) {
				continue
			}
			switch req.Status {
			case 204:
				ok = append(ok, req.Time)
			case 503:
				throttled++
			}
		}
		if throttled < 10 || len(ok) < 5 {
			t.Fatalf("%d throttled and %d successful reports: the faults were not met", throttled, len(ok))
		}
		var worst time.Duration
		for i := 1; i < len(ok); i++ {
			worst = max(worst, ok[i].Sub(ok[i-1]))
		}
		if worst >= MaxActivityInterval {
			t.Fatalf("longest gap between successful reportMyActivity calls %v, want < %v", worst, MaxActivityInterval)
		}
		if p := sim.Presence(botURI); p != "Online" {
			t.Fatalf("bot presence %q after the throttled half hour", p)
		}
		if n := counterValue(t, r.e, "presence_drift"); n != 0 {
			t.Fatalf("presence drifted %v times", n)
		}
		t.Logf("%d successful reports, %d throttled, longest gap %v", len(ok), throttled, worst)
	})
}

// inboxWatch is an HTTP transport that, at every event-channel P-GET,
// reads the account's inbox length in the store.
type inboxWatch struct {
	st         store.Store
	max        int64
	mu         sync.Mutex
	pgets      int
	violations []int64
}

func (w *inboxWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/events") {
		n, err := w.st.Len(context.Background(), botURI)
		w.mu.Lock()
		w.pgets++
		if err == nil && n > w.max {
			w.violations = append(w.violations, n)
		}
		w.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestEngine_stops_polling_while_the_inbox_is_full_and_drops_no_event(t *testing.T) {
	sim := newSim(t, 1)
	st := tempBolt(t)
	cfg := testConfig(sim)
	cfg.Workers = 1
	cfg.InboxMax = 1
	watch := &inboxWatch{st: st, max: cfg.InboxMax}
	obs := newRecorder()
	e, err := New(cfg, WithStore(st), WithRules(staticRules{loadRules(t, `
rules:
  - name: slow
    on: [message.received]
    do:
      - echo: {prefix: "slow ", delay: 150ms}
`)}), WithObserver(obs), WithLogger(testLogger(t)), WithHTTPClient(&http.Client{Transport: watch}))
	if err != nil {
		t.Fatal(err)
	}
	r := &running{e: e, obs: obs}
	r.launch(t)

	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n, err := st.Len(context.Background(), botURI); err == nil && n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"slow m0"}
	for i := 1; i <= 6; i++ {
		text := fmt.Sprintf("m%d", i)
		if err := conv.Say(aliceURI, text); err != nil {
			t.Fatal(err)
		}
		want = append(want, "slow "+text)
		time.Sleep(20 * time.Millisecond)
	}
	waitReplies(t, sim, conv.ID(), want...)
	close(stop)
	<-sampled
	said := botSaid(sim, conv.ID())
	for i, w := range want {
		if said[i] != w {
			t.Fatalf("replies out of order: %q", said)
		}
	}
	for _, m := range conv.Transcript() {
		if m.Undelivered {
			t.Fatalf("message %q was never picked up by the bot", m.Text)
		}
	}
	watch.mu.Lock()
	defer watch.mu.Unlock()
	if peak.Load() <= cfg.InboxMax {
		t.Fatalf("the inbox never grew past InboxMax=%d (peak %d): backpressure was not exercised", cfg.InboxMax, peak.Load())
	}
	if len(watch.violations) > 0 {
		t.Fatalf("%d of %d P-GETs went out while the inbox held more than InboxMax=%d events (lengths %v)",
			len(watch.violations), watch.pgets, cfg.InboxMax, watch.violations)
	}
}

// waitSubscription waits until the bot holds a live subscription to
// alice that pred accepts, and returns it.
func waitSubscription(t testing.TB, sim *ucwasim.Server, what string, pred func(ucwasim.SubscriptionInfo) bool) ucwasim.SubscriptionInfo {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, s := range sim.Subscriptions(botURI) {
			for _, u := range s.URIs {
				if u == aliceURI && pred(s) {
					return s
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; subscriptions: %+v", what, sim.Subscriptions(botURI))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// subscriptionRequests counts the bot's successful subscription
// creations (POST presenceSubscriptions) and extensions (POST
// presenceSubscription).
func subscriptionRequests(sim *ucwasim.Server) (created, extended int) {
	for _, r := range sim.Requests() {
		if r.Method != "POST" || r.User != botURI || r.Status/100 != 2 {
			continue
		}
		switch r.Rel {
		case "presenceSubscriptions":
			created++
		case "presenceSubscription":
			extended++
		}
	}
	return created, extended
}

// watchAlice subscribes to alice's presence with 10-minute subscriptions.
func watchAlice(c *Config) {
	c.SubscriptionDuration = 10 * time.Minute
	c.Accounts[0].Subscribe = []string{aliceURI}
}

// subscriptionNow returns the bot's live subscription to alice.
func subscriptionNow(t *testing.T, sim *ucwasim.Server, when string) ucwasim.SubscriptionInfo {
	t.Helper()
	var found []ucwasim.SubscriptionInfo
	for _, s := range sim.Subscriptions(botURI) {
		for _, u := range s.URIs {
			if u == aliceURI {
				found = append(found, s)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d subscriptions to alice, want 1: %+v", when, len(found), sim.Subscriptions(botURI))
	}
	return found[0]
}

// heard reports whether the engine handled presence.changed for alice
// with the availability.
func heard(r *running, availability string) bool {
	for _, e := range r.obs.snapshot() {
		if e.Kind == event.PresenceChanged && e.Presence.URI == aliceURI && e.Presence.Availability == availability {
			return true
		}
	}
	return false
}

func TestEngine_extends_its_presence_subscription_by_the_timer_and_recreates_it_after_a_404(t *testing.T) {
	runFake(t, watchAlice, func(t *testing.T, sim *ucwasim.Server, r *running) {
		time.Sleep(time.Minute)
		first := subscriptionNow(t, sim, "after a minute")
		// The timer extends it at 60% of its life: same subscription,
		// later expiry.
		time.Sleep(7 * time.Minute)
		if s := subscriptionNow(t, sim, "at 8 minutes"); s.URL != first.URL || !s.Expires.After(first.Expires) {
			t.Fatalf("at 8 minutes the subscription is %+v; want %s extended past %v", s, first.URL, first.Expires)
		}
		if created, extended := subscriptionRequests(sim); created != 1 || extended == 0 {
			t.Fatalf("%d subscriptions created, %d extensions; want one created, then extended", created, extended)
		}
		// It outlives its first expiry.
		time.Sleep(time.Until(first.Expires.Add(time.Minute)))
		if s := subscriptionNow(t, sim, "past its first expiry"); s.URL != first.URL {
			t.Fatalf("past its first expiry the subscription is %s, want %s", s.URL, first.URL)
		}

		// The server forgets it: the next extension gets 404, and the
		// engine subscribes again.
		sim.Inject(ucwasim.Fault{Method: "POST", Rel: "presenceSubscription", User: botURI, Status: 404, Code: "NotFound"})
		time.Sleep(10 * time.Minute)
		if s := subscriptionNow(t, sim, "after the 404"); s.URL == first.URL {
			t.Fatalf("after the 404 the subscription is still %s", s.URL)
		}
		if n := counterValue(t, r.e, "subscription_gone"); n == 0 {
			t.Fatal("subscription_gone not counted")
		}
		if created, _ := subscriptionRequests(sim); created < 2 {
			t.Fatalf("%d subscriptions created; want a new one after the 404", created)
		}
		// And the new one works.
		if err := sim.SetPresence(aliceURI, "DoNotDisturb"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if !heard(r, "DoNotDisturb") {
			t.Fatal("alice's presence did not come through the new subscription")
		}
	})
}

func TestEngine_extends_its_presence_subscription_on_the_servers_expiry_warning(t *testing.T) {
	runFake(t, func(c *Config) {
		watchAlice(c)
		// The engine believes the server's clock four times slower than
		// it runs, so that its own timer comes too late (24 minutes for
		// a 10-minute subscription) and only the warning a minute before
		// the expiry can save the subscription.
		c.ServerTimeScale = 0.25
	}, func(t *testing.T, sim *ucwasim.Server, r *running) {
		time.Sleep(time.Minute)
		first := subscriptionNow(t, sim, "after a minute")
		time.Sleep(time.Until(first.Expires.Add(2 * time.Minute)))
		var warn event.Event
		for _, e := range r.obs.snapshot() {
			if e.Kind == event.SubscriptionExpiring {
				warn = e
				break
			}
		}
		if warn.Time.IsZero() || warn.ID == "" || warn.Account != botURI {
			t.Fatalf("subscription.expiring missing, or without time, id or account: %+v", warn)
		}
		if s := subscriptionNow(t, sim, "past its first expiry"); s.URL != first.URL || !s.Expires.After(first.Expires) {
			t.Fatalf("past its first expiry the subscription is %+v; want %s extended", s, first.URL)
		}
		if created, extended := subscriptionRequests(sim); created != 1 || extended == 0 {
			t.Fatalf("%d subscriptions created, %d extensions; want the first one extended on the warning", created, extended)
		}
	})
}

func TestEngine_subscribes_again_after_resume_and_after_a_new_application(t *testing.T) {
	cases := []struct {
		name   string
		cause  string
		inject func(*ucwasim.Server)
	}{
		{"resume", "resume", func(s *ucwasim.Server) { s.ForceResume(botURI) }},
		{"new application", "application_gone", func(s *ucwasim.Server) { s.KillApplication(botURI) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sim := newSim(t, 1)
			cfg := testConfig(sim)
			cfg.Accounts[0].Subscribe = []string{aliceURI}
			r := start(t, cfg, tempBolt(t), loadRules(t, echoRules))
			first := waitSubscription(t, sim, "the subscription", func(ucwasim.SubscriptionInfo) bool { return true })
			c.inject(sim)
			waitSubscription(t, sim, "a new subscription", func(s ucwasim.SubscriptionInfo) bool { return s.URL != first.URL })
			if n := counterValue(t, r.e, c.cause); n == 0 {
				t.Fatalf("no recovery counted with cause %q", c.cause)
			}
			if err := sim.SetPresence(aliceURI, "Busy"); err != nil {
				t.Fatal(err)
			}
			r.obs.waitFor(t, "alice's presence through the new subscription", 10*time.Second, func(evs []event.Event) bool {
				for _, e := range evs {
					if e.Kind == event.PresenceChanged && e.Presence.URI == aliceURI && e.Presence.Availability == "Busy" {
						return true
					}
				}
				return false
			})
		})
	}
}
