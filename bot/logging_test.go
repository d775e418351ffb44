package bot

import (
	"fmt"
	"io"
	"testing"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// Issue 14: the docs promise a line per event handled, per rule action
// run and per session change, with the fields they name; at debug a whole
// conversation logged one line.
func TestEngine_logs_a_line_per_event_rule_action_and_session_change_at_debug(t *testing.T) {
	sim := newSim(t, 1)
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	logger.SetOutput(io.Discard)
	start(t, testConfig(sim), tempBolt(t), loadRules(t, echoRules), WithLogger(logger))
	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: m0")
	if err := conv.Say(aliceURI, "m1"); err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: m0", "echo: m1")

	has := func(e *logrus.Entry, fields ...string) bool {
		for _, f := range fields {
			if v, ok := e.Data[f]; !ok || v == "" {
				return false
			}
		}
		return true
	}
	handled := map[string]int{}
	actions, steps := 0, map[string]bool{}
	for _, en := range hook.AllEntries() {
		switch en.Message {
		case "event handled":
			if !has(en, "account", "event", "kind", "conversation") {
				t.Errorf("event line without its fields: %v", en.Data)
			}
			handled[fmt.Sprint(en.Data["kind"])]++
		case "rule action ran":
			if !has(en, "account", "event", "conversation", "rule", "handler") {
				t.Errorf("rule action line without its fields: %v", en.Data)
			}
			actions++
		}
		if s, ok := en.Data["step"].(string); ok && has(en, "account") {
			steps[s] = true
		}
	}
	if handled["invitation.received"] != 1 || handled["message.received"] != 2 {
		t.Errorf("event lines by kind: %v, want the invitation once and both messages", handled)
	}
	if actions != 2 {
		t.Errorf("%d rule action lines, want 2 (one echo per message)", actions)
	}
	for _, s := range []string{"sign_in", "application_created", "available"} {
		if !steps[s] {
			t.Errorf("no session change line with step %s (have %v)", s, steps)
		}
	}
}
