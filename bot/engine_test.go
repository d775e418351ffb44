package bot

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// scene is one step the test expects: kind, participant, text.
type scene struct {
	kind  event.Kind
	who   string
	local bool
	text  string
}

func TestEngine_invite_join_write_leave_yields_the_expected_events_in_order(t *testing.T) {
	sim := newSim(t, 1)
	r := start(t, testConfig(sim), tempBolt(t), loadRules(t, echoRules))

	conv, err := sim.Invite(aliceURI, botURI, "hello bot")
	if err != nil {
		t.Fatal(err)
	}
	r.obs.waitFor(t, "conversation.started", 10*time.Second, hasKind(event.ConversationStarted))
	if err := conv.Join(bobURI); err != nil {
		t.Fatal(err)
	}
	r.obs.waitFor(t, "bob joined", 10*time.Second, func(evs []event.Event) bool {
		for _, e := range evs {
			if e.Kind == event.ParticipantJoined && e.Participant.URI == bobURI {
				return true
			}
		}
		return false
	})
	if err := conv.Say(aliceURI, "hi from alice"); err != nil {
		t.Fatal(err)
	}
	if err := conv.Say(bobURI, "hi from bob"); err != nil {
		t.Fatal(err)
	}
	if err := conv.Leave(bobURI); err != nil {
		t.Fatal(err)
	}
	r.obs.waitFor(t, "bob left", 10*time.Second, func(evs []event.Event) bool {
		for _, e := range evs {
			if e.Kind == event.ParticipantLeft && e.Participant.URI == bobURI {
				return true
			}
		}
		return false
	})
	waitReplies(t, sim, conv.ID(), "echo: hello bot", "echo: hi from alice", "echo: hi from bob")
	if err := conv.Typing(aliceURI); err != nil {
		t.Fatal(err)
	}
	if err := conv.HangUp(aliceURI); err != nil {
		t.Fatal(err)
	}
	evs := r.obs.waitFor(t, "conversation.ended", 10*time.Second, hasKind(event.ConversationEnded))

	// The events of the conversation, without the bot's own messages.
	var got []scene
	for _, e := range r.obs.snapshot() {
		if e.Kind == event.MessageSent {
			continue
		}
		got = append(got, scene{e.Kind, e.Participant.URI, e.Participant.Local, e.Message.Text})
	}
	want := []scene{
		{event.InvitationReceived, aliceURI, false, "hello bot"},
		{event.ParticipantJoined, botURI, true, ""},
		{event.ParticipantJoined, aliceURI, false, ""},
		{event.ConversationStarted, "", false, ""},
		{event.MessageReceived, aliceURI, false, "hello bot"},
		{event.ParticipantJoined, bobURI, false, ""},
		{event.MessageReceived, aliceURI, false, "hi from alice"},
		{event.MessageReceived, bobURI, false, "hi from bob"},
		{event.ParticipantLeft, bobURI, false, ""},
		{event.Typing, aliceURI, false, ""},
		{event.ParticipantLeft, botURI, true, ""},
		{event.ParticipantLeft, aliceURI, false, ""},
		{event.ConversationEnded, "", false, ""},
	}
	if len(got) != len(want) {
		t.Fatalf("events:%s\nwant %d events, got %d", describe(evs), len(want), len(got))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	ids := map[string]bool{}
	sent := 0
	for _, e := range r.obs.snapshot() {
		if e.ID == "" || e.Account != botURI || e.Conversation.ID == "" {
			t.Errorf("event %s lacks id, account or conversation: %+v", e.Kind, e)
		}
		if ids[e.ID] {
			t.Errorf("event id %s handled twice", e.ID)
		}
		ids[e.ID] = true
		if e.Kind == event.MessageSent {
			sent++
		}
	}
	if sent != 3 {
		t.Errorf("%d message.sent events, want 3 (one per echo)", sent)
	}
}

func TestEngine_recovers_from_each_fault_without_losing_or_repeating_a_reply(t *testing.T) {
	cases := []struct {
		name   string
		cause  string
		inject func(sim *ucwasim.Server)
	}{
		{"revoked token (401)", "", func(s *ucwasim.Server) { s.RevokeTokens(botURI) }},
		{"403 InvalidToken", "", func(s *ucwasim.Server) {
			s.Inject(ucwasim.Fault{Rel: "sendMessage", User: botURI, Status: 403, Code: "Forbidden", Subcode: "InvalidToken"})
		}},
		{"application killed (404)", "application_gone", func(s *ucwasim.Server) { s.KillApplication(botURI) }},
		{"application expired (410)", "application_gone", func(s *ucwasim.Server) { s.ExpireApplication(botURI) }},
		{"409 MakeMeAvailableRequired", "make_me_available_required", func(s *ucwasim.Server) {
			s.Inject(ucwasim.Fault{Rel: "events", User: botURI, Status: 409, Code: "Conflict", Subcode: "MakeMeAvailableRequired"})
		}},
		{"resync", "resync", func(s *ucwasim.Server) { s.ForceResync(botURI) }},
		{"resume", "resume", func(s *ucwasim.Server) { s.ForceResume(botURI) }},
		{"503 Retry-After", "throttled", func(s *ucwasim.Server) {
			s.Inject(ucwasim.Fault{Rel: "events", User: botURI, Status: 503, Code: "ServiceUnavailable", RetryAfter: time.Second})
		}},
		{"429 Retry-After on send", "throttled", func(s *ucwasim.Server) {
			s.Inject(ucwasim.Fault{Rel: "sendMessage", User: botURI, Status: 429, Code: "TooManyRequests", RetryAfter: time.Second})
		}},
		{"500 burst on send", "transient", func(s *ucwasim.Server) {
			s.Inject(ucwasim.Fault{Rel: "sendMessage", User: botURI, Status: 500, Code: "ServiceFailure", Times: 3})
		}},
		{"500 burst on events", "transient", func(s *ucwasim.Server) {
			s.Inject(ucwasim.Fault{Rel: "events", User: botURI, Status: 500, Code: "ServiceFailure", Times: 4})
		}},
		{"proxy HTML 502", "transient", func(s *ucwasim.Server) {
			s.Inject(ucwasim.Fault{Rel: "events", User: botURI, Status: 502, HTML: true, Times: 2})
		}},
		{"dropped connection", "transient", func(s *ucwasim.Server) {
			s.Inject(ucwasim.Fault{Rel: "events", User: botURI, Drop: true, Times: 6})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sim := newSim(t, 1)
			r := start(t, testConfig(sim), tempBolt(t), loadRules(t, echoRules))
			conv, err := sim.Invite(aliceURI, botURI, "before")
			if err != nil {
				t.Fatal(err)
			}
			waitReplies(t, sim, conv.ID(), "echo: before")

			c.inject(sim)
			// A conversation of a dead application is gone with it: after
			// the fault, talk in the conversation when it is still
			// connected, else in a new one.
			time.Sleep(50 * time.Millisecond)
			if conv.State() == "Connected" {
				if err := conv.Say(aliceURI, "after"); err != nil {
					t.Fatal(err)
				}
				waitReplies(t, sim, conv.ID(), "echo: before", "echo: after")
			}
			conv2, err := sim.Invite(bobURI, botURI, "new one")
			if err != nil {
				t.Fatal(err)
			}
			waitReplies(t, sim, conv2.ID(), "echo: new one")
			if err := conv2.Say(bobURI, "and more"); err != nil {
				t.Fatal(err)
			}
			waitReplies(t, sim, conv2.ID(), "echo: new one", "echo: and more")
			r.waitReady(t)
			if c.cause != "" {
				if n := counterValue(t, r.e, c.cause); n == 0 {
					t.Fatalf("no recovery counted with cause %q: the fault was not met", c.cause)
				}
			}
		})
	}
}

func TestEngine_resumes_its_application_after_a_restart(t *testing.T) {
	sim := newSim(t, 1)
	st := tempBolt(t)
	cfg := testConfig(sim)
	set := loadRules(t, echoRules)

	obs := newRecorder()
	e, err := New(cfg, WithStore(st), WithRules(staticRules{set}), WithObserver(obs), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	conv, err := sim.Invite(aliceURI, botURI, "one")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: one")
	apps := countRequests(sim, "applications")

	// Abandon the engine without a goodbye: a crash as far as the server
	// and the store are concerned (the lease expires by itself).
	e.testCrash()
	cancel()
	<-done

	r := start(t, cfg, st, set)
	if err := conv.Say(aliceURI, "two"); err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: one", "echo: two")
	if n := countRequests(sim, "applications"); n != apps {
		t.Fatalf("the restarted engine created an application (%d → %d POST applications); want the stored one resumed", apps, n)
	}
	_ = r
}

func countRequests(sim *ucwasim.Server, rel string) int {
	n := 0
	for _, r := range sim.Requests() {
		if r.Rel == rel && r.Method == "POST" {
			n++
		}
	}
	return n
}

// An hour with alice's presence changing every few minutes: the bot
// stays Online, keeps its subscription and hears the changes. The hour is
// fake time in a synctest bubble on an in-memory network, so machine load
// cannot stretch it.
func TestEngine_keeps_presence_and_a_subscription_alive_over_an_hour(t *testing.T) {
	runFake(t, func(c *Config) {
		c.SubscriptionDuration = 10 * time.Minute
		c.Accounts[0].Subscribe = []string{aliceURI}
	}, func(t *testing.T, sim *ucwasim.Server, r *running) {
		if err := sim.SetPresence(aliceURI, "Online"); err != nil {
			t.Fatal(err)
		}
		startSim := sim.Now()
		changes := 0
		for sim.Now().Sub(startSim) < time.Hour {
			if p := sim.Presence(botURI); p != "Online" {
				t.Fatalf("bot presence %q at +%v", p, sim.Now().Sub(startSim))
			}
			if sim.Now().Sub(startSim) > time.Minute && len(sim.Subscriptions(botURI)) == 0 {
				t.Fatalf("no presence subscription at +%v", sim.Now().Sub(startSim))
			}
			avail := "Busy"
			if changes%2 == 1 {
				avail = "Online"
			}
			if err := sim.SetPresence(aliceURI, avail); err != nil {
				t.Fatal(err)
			}
			changes++
			time.Sleep(time.Minute)
		}
		synctest.Wait()
		n := 0
		for _, e := range r.obs.snapshot() {
			if e.Kind == event.PresenceChanged && e.Presence.URI == aliceURI {
				n++
			}
		}
		t.Logf("%d of alice's %d presence changes heard", n, changes)
		if n < changes-1 {
			t.Fatalf("%d of alice's %d presence changes heard", n, changes)
		}
		if err := r.e.Ready(); err != nil {
			t.Fatalf("not ready after the hour: %v", err)
		}
	})
}

// counterValue reads the engine's recoveries counter for cause.
func counterValue(t testing.TB, e *Engine, cause string) float64 {
	var m dto.Metric
	if err := e.met.reconnects.WithLabelValues(botURI, cause).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
