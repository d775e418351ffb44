package bot

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/store"
)

func TestEngine_recovers_a_handler_panic_and_goes_on(t *testing.T) {
	sim := newSim(t, 1)
	r := start(t, testConfig(sim), tempBolt(t), loadRules(t, `
rules:
  - name: explode
    on: [message.received]
    do:
      - panic: {}
      - echo: {prefix: "still here: "}
`))
	conv, err := sim.Invite(aliceURI, botURI, "one")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "still here: one")
	evs := r.obs.waitFor(t, "message handled", 5*time.Second, hasKind(event.MessageReceived))
	_ = evs
	r.obs.mu.Lock()
	defer r.obs.mu.Unlock()
	var pe *PanicError
	found := false
	for _, err := range r.obs.errs {
		if errors.As(err, &pe) {
			found = true
			if len(pe.Stack) == 0 {
				t.Error("panic error carries no stack")
			}
		}
	}
	if !found {
		t.Fatalf("no PanicError reported; errors: %v", r.obs.errs)
	}
}

func TestEngine_writes_handler_state_changes_with_the_completion(t *testing.T) {
	sim := newSim(t, 1)
	st := tempBolt(t)
	r := start(t, testConfig(sim), st, loadRules(t, `
rules:
  - name: count
    on: [message.received]
    do:
      - count: {}
      - echo: {prefix: "got "}
`))
	conv, err := sim.Invite(aliceURI, botURI, "a")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"b", "c"} {
		if err := conv.Say(aliceURI, m); err != nil {
			t.Fatal(err)
		}
	}
	waitReplies(t, sim, conv.ID(), "got a", "got b", "got c")
	infos, err := r.e.Conversations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 {
		t.Fatalf("conversations with state: %+v, want one", infos)
	}
	if n := string(infos[0].State["count"]); n != "3" {
		t.Fatalf("count = %v, want 3 (state %v)", infos[0].State["count"], infos[0].State)
	}
	if err := r.e.DropConversation(context.Background(), botURI, infos[0].ID); err != nil {
		t.Fatal(err)
	}
	f, err := st.LoadState(context.Background(), botURI, infos[0].ID)
	if err != nil || len(f) != 0 {
		t.Fatalf("state after drop = %v, %v; want empty", f, err)
	}
}

func TestEngine_shadow_mode_evaluates_rules_and_runs_nothing(t *testing.T) {
	sim := newSim(t, 1)
	cfg := testConfig(sim)
	cfg.Shadow = true
	r := start(t, cfg, tempBolt(t), loadRules(t, echoRules))
	conv, err := sim.Invite(aliceURI, botURI, "hello")
	if err != nil {
		t.Fatal(err)
	}
	evs := r.obs.waitFor(t, "message handled", 10*time.Second, hasKind(event.MessageReceived))
	r.obs.mu.Lock()
	var fired []string
	for i, e := range evs {
		if e.Kind == event.MessageReceived {
			fired = r.obs.fired[i]
		}
	}
	r.obs.mu.Unlock()
	if len(fired) != 1 || fired[0] != "echo" {
		t.Fatalf("fired %v, want the echo rule evaluated", fired)
	}
	// The observer hears of an event only after its handler returned, so a
	// reply it made is in the simulator's log by now.
	if said := botSaid(sim, conv.ID()); len(said) != 0 {
		t.Fatalf("shadow bot said %q", said)
	}
}

func TestEngine_shutdown_drains_in_flight_work_then_leaves_the_server_and_the_lease(t *testing.T) {
	sim := newSim(t, 1)
	st := tempBolt(t)
	r := start(t, testConfig(sim), st, loadRules(t, `
rules:
  - name: slow
    on: [message.received]
    do:
      - echo: {prefix: "slow ", delay: 400ms}
`))
	conv, err := sim.Invite(aliceURI, botURI, "hello")
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the message is in a worker's hands, then shut down.
	r.obs.waitFor(t, "conversation.started", 10*time.Second, hasKind(event.ConversationStarted))
	deadline := time.Now().Add(10 * time.Second)
	for r.e.Status()[0].QueueDepth == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the message never reached a worker")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.cancel()
	<-r.done
	r.done <- nil
	if said := botSaid(sim, conv.ID()); len(said) != 1 || said[0] != "slow hello" {
		t.Fatalf("bot said %q before shutting down; want the in-flight reply drained", said)
	}
	deleted := false
	for _, req := range sim.Requests() {
		if req.Method == "DELETE" && req.Rel == "application" {
			deleted = true
		}
	}
	if !deleted {
		t.Fatal("the application was not deleted at shutdown")
	}
	if l, err := st.LeaseHolder(context.Background(), botURI); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("lease after shutdown = %+v, %v; want released", l, err)
	}
	if n, err := st.Len(context.Background(), botURI); err != nil || n != 0 {
		t.Fatalf("inbox after shutdown holds %d (%v); want drained", n, err)
	}
	if sim.Presence(botURI) == "Online" {
		t.Fatal("bot still Online after shutdown")
	}
}

func TestEngine_keeps_at_most_QueueSize_events_in_flight_and_drops_none(t *testing.T) {
	sim := newSim(t, 1)
	cfg := testConfig(sim)
	cfg.QueueSize = 2
	r := start(t, cfg, tempBolt(t), loadRules(t, `
rules:
  - name: slow
    on: [message.received]
    do:
      - echo: {prefix: "slow ", delay: 30ms}
`))
	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "slow m0")
	want := []string{"slow m0"}
	for i := 1; i <= 8; i++ {
		text := fmt.Sprintf("m%d", i)
		if err := conv.Say(aliceURI, text); err != nil {
			t.Fatal(err)
		}
		want = append(want, "slow "+text)
	}
	stop := make(chan struct{})
	maxDepth := make(chan int)
	go func() {
		m := 0
		for {
			select {
			case <-stop:
				maxDepth <- m
				return
			default:
			}
			m = max(m, r.e.Status()[0].QueueDepth)
			time.Sleep(time.Millisecond)
		}
	}()
	waitReplies(t, sim, conv.ID(), want...)
	close(stop)
	if m := <-maxDepth; m > 2 || m == 0 {
		t.Fatalf("max queue depth %d, want 1..2", m)
	}
	// In order, too: one conversation's events are handled one at a time.
	said := botSaid(sim, conv.ID())
	for i, w := range want {
		if said[i] != w {
			t.Fatalf("replies out of order: %q", said)
		}
	}
}
