package bot

import (
	"strings"
	"testing"
	"time"
)

const timerRules = `
rules:
  - name: wait-for-help
    on: [message.received]
    when: 'message.text == "help me"'
    stop: true
    do:
      - timer: {name: escalate, after: 2s}
      - echo: {prefix: "waiting: "}
  - name: never-mind
    on: [message.received]
    when: 'message.text == "never mind"'
    stop: true
    do:
      - cancel_timer: {name: escalate}
      - echo: {prefix: "ok: "}
  - name: escalate
    on: [timer.fired]
    when: 'timer.name == "escalate"'
    do:
      - reply: {text: "escalating for {{.Participant.URI}}"}
`

// Issue 12: an escalation timer set by a rule fires once, on the instance
// that took the account over after the one that set it was killed; a
// timer cancelled by a later event does not fire.
func TestEngine_an_escalation_timer_fires_once_after_a_takeover(t *testing.T) {
	set := loadBuiltinRules(t, timerRules)
	sim := newSim(t, 1)
	prefix := redisPrefix(t)
	cfgA := testConfig(sim)
	cfgA.InstanceID = "A"
	ea, crashA := crashable(t, cfgA, WithStore(openRedis(t, prefix, "A")), WithRules(staticRules{set}))
	waitUntil(t, "A driving the account", func() bool { return ea.Status()[0].Owner })
	cfgB := testConfig(sim)
	cfgB.InstanceID = "B"
	b := start(t, cfgB, openRedis(t, prefix, "B"), set)

	alice, err := sim.Invite(aliceURI, botURI, "help me")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, alice.ID(), "waiting: help me")
	bob, err := sim.Invite(bobURI, botURI, "help me")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, bob.ID(), "waiting: help me")
	if err := bob.Say(bobURI, "never mind"); err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, bob.ID(), "waiting: help me", "ok: never mind")

	// A dies with both timers set; B takes the account over.
	crashA()
	waitUntil(t, "B driving the account", func() bool { return b.e.Status()[0].Owner })
	waitReplies(t, sim, alice.ID(), "waiting: help me", "escalating for "+aliceURI)
	// Past another round of the timer loop it has still fired once, and
	// bob's cancelled timer not at all.
	time.Sleep(3 * timerPeriod)
	waitReplies(t, sim, alice.ID(), "waiting: help me", "escalating for "+aliceURI)
	waitReplies(t, sim, bob.ID(), "waiting: help me", "ok: never mind")
	if got := botSaid(sim, bob.ID()); len(got) != 2 {
		t.Fatalf("bob's cancelled timer fired: %q", got)
	}
}

// Issue 12: a conversation in which nobody wrote for engine.idle_after
// gets conversation.idle, once per quiet spell.
func TestEngine_a_quiet_conversation_gets_conversation_idle(t *testing.T) {
	set := loadBuiltinRules(t, `
rules:
  - name: nudge
    on: [conversation.idle]
    do:
      - reply: {text: "still there, {{.Participant.Name}}?"}
  - name: echo
    on: [message.received]
    do:
      - echo: {prefix: "echo: "}
`)
	sim := newSim(t, 1)
	cfg := testConfig(sim)
	cfg.IdleAfter = 2 * time.Second
	start(t, cfg, tempBolt(t), set)
	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: m0", "still there, Alice Liddell?")
	if err := conv.Say(aliceURI, "m1"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the second nudge", func() bool { return len(botSaid(sim, conv.ID())) == 4 })
	want := []string{"echo: m0", "still there, Alice Liddell?", "echo: m1", "still there, Alice Liddell?"}
	if got := botSaid(sim, conv.ID()); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("bot said %q, want %q", got, want)
	}
}

// Issue 12: a rule with every fires at its times, each occurrence once,
// across a takeover.
func TestEngine_a_scheduled_rule_fires_each_occurrence_once_across_a_takeover(t *testing.T) {
	set := loadBuiltinRules(t, `
rules:
  - name: standup
    every: 1s
    do:
      - forward: {to: `+bobURI+`, subject: Standup, text: "standup {{.Time.UnixMilli}}"}
`)
	if len(set.Scheduled()) != 1 {
		t.Fatal("the rule with every is not scheduled")
	}
	sim := newSim(t, 1)
	prefix := redisPrefix(t)
	cfgA := testConfig(sim)
	cfgA.InstanceID = "A"
	ea, crashA := crashable(t, cfgA, WithStore(openRedis(t, prefix, "A")), WithRules(staticRules{set}))
	waitUntil(t, "A driving the account", func() bool { return ea.Status()[0].Owner })
	cfgB := testConfig(sim)
	cfgB.InstanceID = "B"
	b := start(t, cfgB, openRedis(t, prefix, "B"), set)
	waitUntil(t, "the first standup", func() bool { return len(saidTo(sim, bobURI)) >= 1 })
	crashA()
	waitUntil(t, "B driving the account", func() bool { return b.e.Status()[0].Owner })
	waitUntil(t, "three standups", func() bool { return len(saidTo(sim, bobURI)) >= 3 })
	seen := map[string]bool{}
	for _, s := range saidTo(sim, bobURI) {
		if seen[s] {
			t.Fatalf("occurrence %q fired twice: %q", s, saidTo(sim, bobURI))
		}
		seen[s] = true
	}
}

// A timer belongs to its conversation: the end of the conversation
// cancels it.
func TestEngine_a_conversations_timers_end_with_it(t *testing.T) {
	set := loadBuiltinRules(t, timerRules)
	sim := newSim(t, 1)
	st := tempBolt(t)
	start(t, testConfig(sim), st, set)
	conv, err := sim.Invite(aliceURI, botURI, "help me")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "waiting: help me")
	if due, err := st.DueTimers(t.Context(), botURI, time.Now().Add(time.Hour), 10); err != nil || len(due) != 1 {
		t.Fatalf("timers set: %v, %v; want the escalation timer", due, err)
	}
	if err := conv.HangUp(aliceURI); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the timer cancelled with the conversation", func() bool {
		due, err := st.DueTimers(t.Context(), botURI, time.Now().Add(time.Hour), 10)
		return err == nil && len(due) == 0
	})
}
