package bot

import (
	"fmt"
	"math"
	"regexp"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// faultAndRetry waits until the request log holds a request of rel answered
// with status and a later request of rel, and returns both.
func faultAndRetry(t testing.TB, sim *ucwasim.Server, rel string, status int) (fault, retry ucwasim.Request) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		reqs := sim.Requests()
		for i, q := range reqs {
			if q.Rel != rel || q.Status != status {
				continue
			}
			for _, n := range reqs[i+1:] {
				if n.Rel == rel && n.Method == q.Method {
					return q, n
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s answered %d followed by a retry in the request log", rel, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEngine_waits_the_servers_Retry_After_before_retrying(t *testing.T) {
	const retryAfter = time.Second
	cases := []struct {
		name  string
		fault ucwasim.Fault
	}{
		// sendMessage runs through call: wait(ctx, b, err) sleeps Retry-After.
		{"429 on sendMessage", ucwasim.Fault{Rel: "sendMessage", User: botURI, Status: 429, Code: "TooManyRequests", RetryAfter: retryAfter}},
		// The P-GET's recovery sleeps Retry-After as well.
		{"503 on the event channel", ucwasim.Fault{Rel: "events", User: botURI, Status: 503, Code: "ServiceUnavailable", RetryAfter: retryAfter}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			const scale = 1
			sim := newSim(t, scale)
			cfg := testConfig(sim)
			// A backoff step is far below Retry-After: a retry that came
			// after a backoff step instead would come too early.
			cfg.BackoffMax = 200 * time.Millisecond
			r := start(t, cfg, tempBolt(t), loadRules(t, echoRules))
			conv, err := sim.Invite(aliceURI, botURI, "before")
			if err != nil {
				t.Fatal(err)
			}
			waitReplies(t, sim, conv.ID(), "echo: before")

			sim.Inject(c.fault)
			if err := conv.Say(aliceURI, "after"); err != nil {
				t.Fatal(err)
			}
			fault, retry := faultAndRetry(t, sim, c.fault.Rel, c.fault.Status)
			waitReplies(t, sim, conv.ID(), "echo: before", "echo: after")

			// The engine waits Retry-After in real time, unscaled; the
			// request log counts simulated time, scale times faster.
			gap := retry.Time.Sub(fault.Time)
			want := time.Duration(float64(retryAfter) * scale)
			if gap < want {
				t.Fatalf("retry %v after the %d answer, want at least the Retry-After %v", gap, fault.Status, want)
			}
			if gap > want+4*time.Second {
				t.Fatalf("retry %v after the %d answer, want about the Retry-After %v", gap, fault.Status, want)
			}
			if n := counterValue(t, r.e, "throttled"); n != 1 {
				t.Fatalf("%v throttled recoveries counted, want 1", n)
			}
		})
	}
}

var appIDRe = regexp.MustCompile(`/applications/([^/?]+)`)

// appIDs returns the application ids the bot's requests from index from on used.
func appIDs(sim *ucwasim.Server, from int) map[string]int {
	ids := map[string]int{}
	reqs := sim.Requests()
	for _, q := range reqs[min(from, len(reqs)):] {
		if q.User != botURI {
			continue
		}
		if m := appIDRe.FindStringSubmatch(q.Path); m != nil {
			ids[m[1]]++
		}
	}
	return ids
}

func TestEngine_recovers_a_refused_token_in_the_same_application(t *testing.T) {
	cases := []struct {
		name   string
		inject func(sim *ucwasim.Server)
		met    func(reqs []ucwasim.Request) bool
	}{
		{"revoked token (401)", func(s *ucwasim.Server) { s.RevokeTokens(botURI) }, func(reqs []ucwasim.Request) bool {
			for _, q := range reqs {
				if q.Status == 401 && q.Rel != "token" {
					return true
				}
			}
			return false
		}},
		{"403 InvalidToken", func(s *ucwasim.Server) {
			s.Inject(ucwasim.Fault{Rel: "sendMessage", User: botURI, Status: 403, Code: "Forbidden", Subcode: "InvalidToken"})
		}, func(reqs []ucwasim.Request) bool {
			for _, q := range reqs {
				if q.Status == 403 && q.Rel == "sendMessage" {
					return true
				}
			}
			return false
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
			ids := appIDs(sim, 0)
			if len(ids) != 1 {
				t.Fatalf("applications used before the fault: %v, want one", ids)
			}
			apps := countRequests(sim, "applications")
			mark := len(sim.Requests())

			c.inject(sim)
			if err := conv.Say(aliceURI, "after"); err != nil {
				t.Fatal(err)
			}
			waitReplies(t, sim, conv.ID(), "echo: before", "echo: after")
			r.waitReady(t)
			after := sim.Requests()[mark:]
			if !c.met(after) {
				t.Fatalf("the fault was not met; requests after it: %+v", after)
			}
			tokens := 0
			for _, q := range after {
				if q.Rel == "token" && q.Method == "POST" && q.Status == 200 {
					tokens++
				}
			}
			if tokens == 0 {
				t.Fatal("no new token after the refused one")
			}
			if n := countRequests(sim, "applications"); n != apps {
				t.Fatalf("%d POST applications during the recovery, want none", n-apps)
			}
			later := appIDs(sim, mark)
			for id := range later {
				if ids[id] == 0 {
					t.Fatalf("requests after the recovery used application %s; before: %v", id, ids)
				}
			}
			if conv.State() != "Connected" {
				t.Fatalf("conversation %s after the recovery, want it kept Connected", conv.State())
			}
		})
	}
}

func TestNewBackoff_honours_initial_multiplier_jitter_and_cap(t *testing.T) {
	cases := []Config{
		{BackoffInitial: 10 * time.Millisecond, BackoffMultiplier: 3, BackoffJitter: 0.25, BackoffMax: 400 * time.Millisecond},
		{BackoffInitial: 50 * time.Millisecond, BackoffMultiplier: 1, BackoffJitter: 0.5, BackoffMax: time.Second},
		{BackoffInitial: 2 * time.Second, BackoffMultiplier: 2, BackoffJitter: 0.1, BackoffMax: time.Second}, // initial above the cap
	}
	for _, cfg := range cases {
		t.Run(fmt.Sprintf("%v×%v±%v≤%v", cfg.BackoffInitial, cfg.BackoffMultiplier, cfg.BackoffJitter, cfg.BackoffMax), func(t *testing.T) {
			e := &Engine{cfg: cfg}
			b := e.newBackoff()
			check := func(round int) {
				base := float64(min(cfg.BackoffInitial, cfg.BackoffMax))
				lo, hi := math.Inf(1), 0.0
				for n := range 60 {
					got := float64(b.NextBackOff())
					j := cfg.BackoffJitter * base
					if got < base-j-1 || got > base+j+1 {
						t.Fatalf("round %d step %d: %v, want %v ± %v", round, n, time.Duration(got), time.Duration(base), time.Duration(j))
					}
					if got > float64(cfg.BackoffMax)*(1+cfg.BackoffJitter)+1 {
						t.Fatalf("round %d step %d: %v above the cap %v and its jitter", round, n, time.Duration(got), cfg.BackoffMax)
					}
					if base == float64(cfg.BackoffMax) {
						lo, hi = math.Min(lo, got), math.Max(hi, got)
					}
					base = math.Min(base*cfg.BackoffMultiplier, float64(cfg.BackoffMax))
				}
				// At the cap the waits spread over the jitter's range (60
				// draws from ±jitter all within a tenth of it is no jitter).
				if spread := (hi - lo) / (2 * cfg.BackoffJitter * float64(cfg.BackoffMax)); hi > 0 && spread < 0.1 {
					t.Fatalf("round %d: waits at the cap span %v..%v: no jitter", round, time.Duration(lo), time.Duration(hi))
				}
			}
			check(1)
			b.Reset()
			check(2) // Reset starts again from BackoffInitial
		})
	}
}

func TestEngine_event_channel_backoff_starts_over_after_a_success(t *testing.T) {
	sim := newSim(t, 1)
	cfg := testConfig(sim)
	// Waits of about 20 ms, 100 ms, 500 ms; a fourth would be 2.5 s.
	cfg.BackoffInitial = 20 * time.Millisecond
	cfg.BackoffMultiplier = 5
	cfg.BackoffJitter = 0.01
	cfg.BackoffMax = 10 * time.Second
	start(t, cfg, tempBolt(t), loadRules(t, echoRules))
	burst := func() {
		sim.Inject(ucwasim.Fault{Rel: "events", User: botURI, Status: 500, Code: "ServiceFailure", Times: 3})
	}

	burst()
	conv, err := sim.Invite(aliceURI, botURI, "one")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: one")
	burst()
	if err := conv.Say(aliceURI, "two"); err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: one", "echo: two")

	// gaps[i] is the time from the i-th 500 on the event channel to the
	// next P-GET.
	var gaps []time.Duration
	deadline := time.Now().Add(10 * time.Second)
	for {
		gaps = gaps[:0]
		var evs []ucwasim.Request
		for _, q := range sim.Requests() {
			if q.Rel == "events" {
				evs = append(evs, q)
			}
		}
		for i, q := range evs {
			if q.Status == 500 && i+1 < len(evs) {
				gaps = append(gaps, evs[i+1].Time.Sub(q.Time))
			}
		}
		if len(gaps) == 6 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(gaps) != 6 {
		t.Fatalf("%d retries after a 500 on the event channel, want 6 (two bursts of 3)", len(gaps))
	}
	const initial, third = 20 * time.Millisecond, 500 * time.Millisecond
	if gaps[2] < third*99/100 {
		t.Fatalf("third retry of the first burst after %v, want the grown backoff of about %v (gaps %v)", gaps[2], third, gaps)
	}
	if gaps[3] < initial*99/100 {
		t.Fatalf("first retry of the second burst after %v, want at least BackoffInitial %v (gaps %v)", gaps[3], initial, gaps)
	}
	// Without a reset the first retry of the second burst would wait
	// about 2.5 s.
	if gaps[3] > 1500*time.Millisecond {
		t.Fatalf("first retry of the second burst after %v: the backoff did not start over after the success (gaps %v)", gaps[3], gaps)
	}
}

func TestEngine_yields_participant_updated_with_the_participant_resolved(t *testing.T) {
	sim := newSim(t, 1)
	r := start(t, testConfig(sim), tempBolt(t), loadRules(t, echoRules))
	conv, err := sim.Invite(aliceURI, botURI, "hello")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: hello")
	if err := conv.UpdateParticipant(aliceURI); err != nil {
		t.Fatal(err)
	}
	evs := r.obs.waitFor(t, "participant.updated", 10*time.Second, hasKind(event.ParticipantUpdated))
	var started event.Event
	for _, e := range evs {
		if e.Kind == event.ConversationStarted {
			started = e
		}
	}
	// Once the engine has handled everything it stored, a second
	// participant.updated would have reached the observer.
	waitUntil(t, "engine settled", func() bool { ok, _ := settled(t); return ok })
	var got []event.Event
	for _, e := range r.obs.snapshot() {
		if e.Kind == event.ParticipantUpdated {
			got = append(got, e)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d participant.updated events, want 1:%s", len(got), describe(got))
	}
	e := got[0]
	if e.Participant.URI != aliceURI || e.Participant.Name != "Alice Liddell" || e.Participant.Local {
		t.Fatalf("participant = %+v, want alice, named, remote", e.Participant)
	}
	if e.Conversation.ID == "" || e.Conversation.ID != started.Conversation.ID {
		t.Fatalf("conversation %q, want the started one %q", e.Conversation.ID, started.Conversation.ID)
	}
	if e.ID == "" || e.Account != botURI {
		t.Fatalf("event lacks id or account: %+v", e)
	}
}

func TestEngine_subscription_expiring_carries_the_expiry(t *testing.T) {
	runFake(t, func(c *Config) {
		watchAlice(c)
		// The engine is told the server's clock runs four times slower,
		// so it extends the subscription only after 24 minutes: the
		// server's expiry warning comes first.
		c.ServerTimeScale = 0.25
	}, func(t *testing.T, sim *ucwasim.Server, r *running) {
		time.Sleep(time.Minute)
		first := subscriptionNow(t, sim, "after a minute")
		time.Sleep(time.Until(first.Expires))
		for _, e := range r.obs.snapshot() {
			if e.Kind != event.SubscriptionExpiring {
				continue
			}
			if !e.Presence.Expires.Equal(first.Expires) {
				t.Fatalf("Presence.Expires = %v, want the subscription's expiry %v", e.Presence.Expires, first.Expires)
			}
			if e.Account != botURI || e.ID == "" {
				t.Fatalf("event lacks id or account: %+v", e)
			}
			return
		}
		t.Fatal("no subscription.expiring before the expiry")
	})
}
