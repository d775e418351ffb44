package bot

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/plugins"
	"github.com/ucwabot/ucwabot/rules"
	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// requireNewIM checks that the bot said text exactly once, and not in conv
// (the conversation the invitation would have opened).
func requireNewIM(t *testing.T, sim *ucwasim.Server, conv, text string) {
	t.Helper()
	waitReplies(t, sim, "", text)
	for _, m := range sim.Sent(botURI) {
		if m.Text == text && m.Conversation == conv {
			t.Fatalf("%q went to the conversation of the invitation that was gone", text)
		}
	}
}

// Issue 16: the application died between the invitation's delivery and
// its accept (404 ApplicationNotFound). The person's first message,
// which only the invitation carried, is answered in a new IM.
func TestEngine_an_invitation_whose_application_died_before_the_accept_is_answered_in_a_new_IM(t *testing.T) {
	sim := newSim(t, 1)
	start(t, testConfig(sim), tempBolt(t), loadRules(t, echoRules))
	sim.Inject(ucwasim.Fault{Method: http.MethodPost, Rel: "accept", Action: ucwasim.FaultKill, Times: 1})
	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	requireNewIM(t, sim, conv.ID(), "echo: m0")
}

// Issue 16 (chaos seed 7): a resume tore the conversations down after the
// bot had fetched an invitation and before it accepted it; the accept is
// refused with 404 and the first message is answered in a new IM.
func TestEngine_an_invitation_torn_down_by_a_resume_before_the_accept_is_answered_in_a_new_IM(t *testing.T) {
	sim := newSim(t, 1)
	set, entered, gate := gated(t, "")
	start(t, testConfig(sim), tempBolt(t), set)
	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	sim.ForceResume(botURI)
	waitUntil(t, "the resume to end the conversation", func() bool { return conv.State() == "Disconnected" })
	close(gate)
	requireNewIM(t, sim, conv.ID(), "echo: m0")
}

// gateRules holds invitations in the gate plugin after (or instead of)
// their accept; messages are echoed.
const gateRules = `
rules:
  - name: hold
    on: [invitation.received]
    do:
%s      - gate: {}
  - name: echo
    on: [message.received]
    do:
      - echo: {prefix: "echo: "}
`

// gated loads gateRules with a gate plugin: each run of it signals entered
// and waits until gate is closed.
func gated(t *testing.T, steps string) (set *rules.Set, entered chan struct{}, gate chan struct{}) {
	t.Helper()
	entered, gate = make(chan struct{}, 8), make(chan struct{})
	reg := testRegistry()
	reg.Register("accept", plugins.Define(func(c handlers.AcceptConfig) (handlers.Handler, error) { return handlers.NewAccept(c) }))
	type gateConfig struct{}
	reg.Register("gate", plugins.Define(func(gateConfig) (handlers.Handler, error) {
		return handlers.HandlerFunc(func(ctx context.Context, req *handlers.Request) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			select {
			case <-gate:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}), nil
	}))
	set, err := rules.LoadBytes(rules.Options{Build: reg.Build}, "rules.yaml", []byte(fmt.Sprintf(gateRules, steps)))
	if err != nil {
		t.Fatal(err)
	}
	return set, entered, gate
}

// appendWatch reports the kind of every event the poller stores.
type appendWatch struct {
	*dyingStore
	stored chan string
}

func (s *appendWatch) AppendBatch(ctx context.Context, account string, fence int64, b store.Batch) (int64, error) {
	n, err := s.dyingStore.AppendBatch(ctx, account, fence, b)
	if err == nil {
		for _, e := range b.Entries {
			env, err := decodeEntry(e.Payload, account, e.Conversation)
			if err != nil {
				panic(err)
			}
			s.stored <- string(env.Event.Kind)
		}
	}
	return n, err
}

// A replayed invitation whose earlier run's accept was taken, and whose
// conversation was torn down since, answers the first message in a new
// IM; the server's delivery of that message in the conversation, stored
// before the crash, is then not answered again.
func TestEngine_a_replayed_invitation_answers_its_first_message_once(t *testing.T) {
	sim := newSim(t, 1)
	st := tempBolt(t)
	cfg := testConfig(sim)
	set, entered, gate := gated(t, "      - accept: {}\n")

	dying := &appendWatch{dyingStore: newDyingStore(st, false, nil), stored: make(chan string, 16)}
	_, crash := crashable(t, cfg, WithStore(dying), WithRules(staticRules{set}))
	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	// The accept is taken; wait for the conversation's first message to
	// be stored, behind the invitation that is still running.
	for kind := ""; kind != "message.received"; {
		kind = <-dying.stored
	}
	dying.kill()
	close(gate)
	crash()
	if got := botSaid(sim, ""); len(got) != 0 {
		t.Fatalf("the first engine replied %q before it died", got)
	}

	sim.KillApplication(botURI)
	start(t, cfg, st, set)
	requireNewIM(t, sim, conv.ID(), "echo: m0")
}

// A 404 on the accept while the conversation is still there (a front's
// fault) is no gone invitation: the bot accepts again, and the person's
// conversation goes on.
func TestEngine_a_404_on_accept_with_the_conversation_still_there_accepts_again(t *testing.T) {
	sim := newSim(t, 1)
	start(t, testConfig(sim), tempBolt(t), loadRules(t, echoRules))
	sim.Inject(ucwasim.Fault{Method: http.MethodPost, Rel: "accept", Status: http.StatusNotFound, Subcode: "ApplicationNotFound", Times: 1})
	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: m0")
	if err := conv.Say(aliceURI, "m1"); err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: m0", "echo: m1")
}
