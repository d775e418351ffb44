package rules_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/plugins"
	"github.com/ucwabot/ucwabot/rules"
)

// Anchors, aliases and merge keys work as YAML defines them: an alias
// stands for its anchor's value, a merge key brings in the keys the
// mapping does not set itself, and what an alias stands for keeps the
// position where it is written.
func TestLoadAnchorsAliasesAndMergeKeys(t *testing.T) {
	s := loadText(t, rules.Options{Build: plugins.Default.Build}, `version: 1
x-defaults: &defaults
  on: message.received
  priority: 5
  cooldown: {window: 1h, per: [conversation]}
x-steps: &steps
  - reply: {text: "Hello {{.Participant.Name}}"}
  - leave
rules:
  - <<: *defaults
    name: a
    do: *steps
  - <<: [*defaults]
    name: b
    priority: 9
    on: [participant.joined, typing]
    do: *steps
`)
	byName := map[string]*rules.Rule{}
	for _, r := range s.Rules() {
		byName[r.Name] = r
	}
	a, b := byName["a"], byName["b"]
	if a == nil || b == nil {
		t.Fatalf("rules %v", ruleNames(s))
	}
	if !slices.Equal(a.On, []event.Kind{event.MessageReceived}) || a.Priority != 5 || a.Cooldown == nil || a.Cooldown.Window != time.Hour || a.Cooldown.PerParticipant {
		t.Errorf("a: on %v priority %d cooldown %+v, want the defaults", a.On, a.Priority, a.Cooldown)
	}
	if !slices.Equal(b.On, []event.Kind{event.ParticipantJoined, event.Typing}) || b.Priority != 9 || b.Cooldown == nil {
		t.Errorf("b: on %v priority %d cooldown %+v, want its own on and priority, the default cooldown", b.On, b.Priority, b.Cooldown)
	}
	for _, r := range []*rules.Rule{a, b} {
		if len(r.Do) != 2 || r.Do[0].Plugin != "reply" || r.Do[1].Plugin != "leave" || r.Do[0].Instance == nil {
			t.Fatalf("%s: do %+v", r.Name, r.Do)
		}
		// The steps are where the anchor's value is written.
		if r.Do[0].Line != 7 || r.Do[0].Col != 5 || r.Do[1].Line != 8 {
			t.Errorf("%s: steps at %d:%d and %d, want 7:5 and 8", r.Name, r.Do[0].Line, r.Do[0].Col, r.Do[1].Line)
		}
	}
}
