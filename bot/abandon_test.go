package bot

import (
	"context"
	"errors"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/plugins"
	"github.com/ucwabot/ucwabot/rules"
)

// Issue 14: a handler that ignores its context held a worker past its
// timeout, and other conversations waited on it. The engine abandons it:
// with one worker, another conversation is answered while it still
// hangs; its state changes and its later replies go nowhere; it is
// counted.
func TestEngine_a_handler_that_ignores_its_deadline_is_abandoned(t *testing.T) {
	release := make(chan struct{})
	returned := make(chan error, 1)
	reg := testRegistry()
	type hogConfig struct{}
	reg.Register("hog", plugins.Define(func(hogConfig) (handlers.Handler, error) {
		return handlers.HandlerFunc(func(ctx context.Context, req *handlers.Request) error {
			<-release // ignores ctx
			if err := req.State.Set("hogged", true); err != nil {
				return err
			}
			err := req.Reply.Say(context.Background(), "too late")
			returned <- err
			return err
		}), nil
	}))
	set, err := rules.LoadBytes(rules.Options{Build: reg.Build}, "rules.yaml", []byte(`
rules:
  - name: hog
    on: [message.received]
    when: 'message.text == "hog"'
    stop: true
    do:
      - hog: {}
  - name: echo
    on: [message.received]
    do:
      - echo: {prefix: "echo: "}
`))
	if err != nil {
		t.Fatal(err)
	}
	sim := newSim(t, 1)
	cfg := testConfig(sim)
	cfg.Workers = 1
	cfg.HandlerTimeout = 200 * time.Millisecond
	st := tempBolt(t)
	r := start(t, cfg, st, set)
	defer close(release)

	hogged, err := sim.Invite(aliceURI, botURI, "hog")
	if err != nil {
		t.Fatal(err)
	}
	other, err := sim.Invite(bobURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, other.ID(), "echo: m0")
	waitUntil(t, "the abandoned handler counted", func() bool { return abandonedCount(t, r.e, "hog") == 1 })

	// The hogged conversation goes on with its next event.
	if err := hogged.Say(aliceURI, "m1"); err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, hogged.ID(), "echo: m1")

	release <- struct{}{}
	if err := <-returned; !errors.Is(err, ErrHandlerAbandoned) {
		t.Fatalf("the abandoned handler's reply: %v, want ErrHandlerAbandoned", err)
	}
	// The abandoned handler's change never reaches the state (the hog's
	// event and m1's echo have completed by now).
	fields := storedState(t, st, hogged.ID())
	if _, ok := fields["hogged"]; ok {
		t.Fatalf("the abandoned handler's state change was stored: %v", fields)
	}
	for _, m := range botSaid(sim, hogged.ID()) {
		if m == "too late" {
			t.Fatal("the abandoned handler's reply was sent")
		}
	}
}

func abandonedCount(t *testing.T, e *Engine, handler string) float64 {
	var m dto.Metric
	if err := e.met.handlersAbandoned.WithLabelValues(botURI, handler).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
