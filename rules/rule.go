package rules

import (
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"github.com/ucwabot/ucwabot/bot/event"
)

// Builder builds a handler instance for one step of a rule from the
// plugin's name and its YAML parameters (nil when the step gives none). It
// runs at load time; its error becomes a load error at the step's position.
// plugins.Registry.Build is a Builder.
type Builder func(plugin string, params *yaml.Node) (any, error)

// Rule is one rule of a loaded Set. Its fields are read-only.
type Rule struct {
	Name        string
	Description string
	On          []event.Kind
	When        string // the condition's source; empty means always
	Do          []Step
	// OnError are the steps run instead of the rest of Do when a step of
	// Do fails; none means the rest of Do runs anyway.
	OnError  []Step
	Stop     bool
	Enabled  bool
	Priority int
	Cooldown *Cooldown
	// Command, when set, is the word a message must start with (lower
	// case); Help says what it does, for the help answer.
	Command string
	Help    string
	// RestrictTo, when not empty, are the SIP URIs and domains of the
	// people the rule fires for.
	RestrictTo []string
	// Schedule, for a rule with every or cron, says when it fires
	// (schedule.fired).
	Schedule Schedule

	File      string // where the rule starts
	Line, Col int

	program  *vm.Program
	prefix   *textPrefix // what the text must start with for the program to hold; nil: no such test
	whenNode *yaml.Node
	order    int // position in load order, for stable priority sorting
	stats    ruleCounters
}

// Step is one handler call of a rule.
type Step struct {
	Plugin string
	Params *yaml.Node
	// Instance is what Options.Build returned for this step (a
	// handlers.Handler when built by a plugins.Registry).
	Instance any

	File      string
	Line, Col int
}

// Cooldown limits a rule to one firing per Window for each key.
type Cooldown struct {
	Window time.Duration
	// PerConversation and PerParticipant say what the key is made of;
	// neither means once per window for the whole bot account.
	PerConversation bool
	PerParticipant  bool
}

// RuleStats are the counters of one rule since its Set was loaded.
type RuleStats struct {
	Name    string
	Matches uint64        // times the rule fired
	Errors  uint64        // condition errors and failed handler runs
	Runs    uint64        // handler runs reported through Set.Observe
	RunTime time.Duration // total time of those runs
}

type ruleCounters struct {
	matches, errors, runs atomic.Uint64
	runNanos              atomic.Int64
}
