package bot

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/plugins"
	"github.com/ucwabot/ucwabot/rules"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// recordingRules accepts invitations and brings bob in on "invite bob"
// through the record plugin, which hands each call's error to errs.
const recordingRules = `
rules:
  - name: accept
    on: [invitation.received]
    do:
      - record: {}
  - name: invite
    on: [message.received]
    when: 'message.text == "invite bob"'
    do:
      - record: {}
  - name: echo
    on: [message.received]
    do:
      - echo: {prefix: "echo: "}
`

func recording(t *testing.T) (*rules.Set, chan error) {
	t.Helper()
	errs := make(chan error, 8)
	reg := testRegistry()
	type recordConfig struct{}
	reg.Register("record", plugins.Define(func(recordConfig) (handlers.Handler, error) {
		return handlers.HandlerFunc(func(ctx context.Context, req *handlers.Request) error {
			var err error
			if req.Event.Kind == "invitation.received" {
				err = req.Reply.Accept(ctx)
			} else {
				err = req.Reply.Invite(ctx, bobURI)
			}
			errs <- err
			return err
		}), nil
	}))
	set, err := rules.LoadBytes(rules.Options{Build: reg.Build}, "rules.yaml", []byte(recordingRules))
	if err != nil {
		t.Fatal(err)
	}
	return set, errs
}

func requestsTo(sim *ucwasim.Server, rel string) int {
	n := 0
	for _, r := range sim.Requests() {
		if r.Rel == rel && r.Method == http.MethodPost {
			n++
		}
	}
	return n
}

// Issue 16: the server took an accept whose answer was lost. The accept
// is sent again; the server's 409 (not pending) then means the lost one
// reached it, and the accept succeeds.
func TestEngine_an_accept_whose_answer_was_lost_succeeds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
	}{{"connection dropped after the POST", 0}, {"502 after the POST", http.StatusBadGateway}} {
		t.Run(tc.name, func(t *testing.T) {
			sim := newSim(t, 1)
			set, errs := recording(t)
			lose := &loseAnswers{next: http.DefaultTransport, with: tc.status, suffix: "/accept"}
			lose.n.Store(1)
			start(t, testConfig(sim), tempBolt(t), set, WithHTTPClient(&http.Client{Transport: lose}))
			conv, err := sim.Invite(aliceURI, botURI, "m0")
			if err != nil {
				t.Fatal(err)
			}
			if err := <-errs; err != nil {
				t.Fatalf("accept: %v", err)
			}
			waitReplies(t, sim, conv.ID(), "echo: m0")
			if n := requestsTo(sim, "accept"); n != 2 {
				t.Fatalf("the server got %d accepts, want 2 (the lost one and the one it refused)", n)
			}
		})
	}
}

// Issue 16: addParticipant is done at most once. When its answer is lost
// after the request went out, it is not sent again (the server may have
// brought the person in), and the handler is told.
func TestEngine_an_addParticipant_whose_answer_was_lost_is_not_sent_again(t *testing.T) {
	sim := newSim(t, 1)
	set, errs := recording(t)
	lose := &loseAnswers{next: http.DefaultTransport, suffix: "/participantInvitations"}
	lose.n.Store(1)
	start(t, testConfig(sim), tempBolt(t), set, WithHTTPClient(&http.Client{Transport: lose}))
	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatalf("accept: %v", err)
	}
	waitReplies(t, sim, conv.ID(), "echo: m0")
	if err := conv.Say(aliceURI, "invite bob"); err != nil {
		t.Fatal(err)
	}
	err = <-errs
	var la *lostAnswer
	if !errors.As(err, &la) || !strings.Contains(err.Error(), "at most once") {
		t.Fatalf("addParticipant: %v, want a lost answer that says it is not sent again", err)
	}
	if n := requestsTo(sim, "addParticipant"); n != 1 {
		t.Fatalf("the server got %d addParticipant requests, want 1", n)
	}
	waitUntil(t, "bob in the conversation", func() bool {
		for _, p := range conv.Participants() {
			if strings.EqualFold(p, bobURI) {
				return true
			}
		}
		return false
	})
}

// Issue 16: a replayed event runs its webhook step again (at least once),
// with the same Idempotency-Key, so that the receiver can drop the repeat;
// the reply after it is still sent once.
func TestEngine_a_replayed_webhook_step_sends_the_same_idempotency_key(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get(handlers.IdempotencyKeyHeader))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	hooked := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(keys)
	}
	reg := testRegistry()
	reg.Register("webhook", plugins.Define(func(c handlers.WebhookConfig) (handlers.Handler, error) { return handlers.NewWebhook(c) }))
	set, err := rules.LoadBytes(rules.Options{Build: reg.Build}, "rules.yaml", []byte(`
rules:
  - name: hook
    on: [message.received]
    do:
      - webhook: {url: "`+hook.URL+`", retries: -1}
      - echo: {prefix: "echo: "}
`))
	if err != nil {
		t.Fatal(err)
	}
	sim := newSim(t, 1)
	st := tempBolt(t)
	cfg := testConfig(sim)
	dying := newDyingStore(st, false, func(op, _ string) bool { return op == "complete" && len(hooked()) > 0 })
	_, crash := crashable(t, cfg, WithStore(dying), WithRules(staticRules{set}))
	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-dying.died:
	case <-time.After(15 * time.Second):
		t.Fatal("the first engine never completed the event")
	}
	crash()

	start(t, cfg, st, set)
	waitReplies(t, sim, conv.ID(), "echo: m0")
	waitUntil(t, "the replay's webhook call", func() bool { return len(hooked()) >= 2 })
	got := hooked()
	if len(got) != 2 || got[0] == "" || got[0] != got[1] {
		t.Fatalf("webhook Idempotency-Keys %q: want one key, sent twice", got)
	}
}
