package rules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/ucwabot/ucwabot/bot/event"
)

// Set is a loaded, compiled set of rules. It is immutable and safe for
// concurrent use; Close releases its handlers once it is no longer used.
type Set struct {
	all        []*Rule // every rule, in evaluation order
	byKind     map[event.Kind][]*Rule
	invitation *vm.Program
	subs       []string
	vars       map[string]any
	loc        *time.Location
	files      []string
	deps       []string
	version    string
	pool       sync.Pool // *evaluator
	closeOnce  sync.Once
	closeErr   error
	invErrors  atomic.Uint64
	// The help answer (command.go).
	helpWord, helpIntro string
	hasCommands         bool
	usesPerson          bool
}

// UsesPerson reports whether an expression reads person.state: the engine
// then loads the participant's state before it evaluates the rules.
func (s *Set) UsesPerson() bool { return s.usesPerson }

// Match is a rule that fired for an event, or the help answer.
type Match struct {
	Rule *Rule
	// Help, when not empty, is the answer to a person who asked for help:
	// the commands they may use. Rule is then the HelpRule.
	Help string
}

// HelpRule stands for the help answer in a Match.
var HelpRule = &Rule{Name: "help", On: []event.Kind{event.MessageReceived}, Enabled: true}

// Marker records cooldown marks. Mark reports whether key was not marked
// yet (and marks it for ttl). The engine's implementation keeps marks in
// the state store, so cooldowns hold across restarts and instances.
type Marker interface {
	Mark(ctx context.Context, key string, ttl time.Duration) (first bool, err error)
}

// Version identifies the set by the content of its files: "sha256:" and
// 12 hex digits.
func (s *Set) Version() string { return s.version }

// Rules returns every rule, disabled ones included, in evaluation order.
func (s *Set) Rules() []*Rule { return s.all }

// Files returns the files the set was loaded from, includes too.
func (s *Set) Files() []string { return s.files }

// Handles reports whether any rule fires for events of kind k.
func (s *Set) Handles(k event.Kind) bool { return len(s.byKind[k]) > 0 }

// Dependencies returns the files the handlers read when they were built
// (Dependent), such as an FAQ file. The version covers their content.
func (s *Set) Dependencies() []string { return s.deps }

// Subscriptions returns the SIP URIs the files ask the bot to subscribe to.
func (s *Set) Subscriptions() []string { return s.subs }

// Location is the time zone of now in expressions.
func (s *Set) Location() *time.Location { return s.loc }

// Vars returns the files' vars.
func (s *Set) Vars() map[string]any { return s.vars }

// evaluator is a VM with an environment, reused through the Set's pool.
type evaluator struct {
	vm  vm.VM
	env *Env
}

func (e *evaluator) run(p *vm.Program) (bool, error) {
	if p == nil {
		return true, nil
	}
	out, err := e.vm.Run(p, e.env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, errNotBool
	}
	return b, nil
}

func (s *Set) evaluator(in *Input) *evaluator {
	ev := s.pool.Get().(*evaluator)
	ev.env.bind(in, s.loc)
	return ev
}

func (s *Set) release(ev *evaluator) {
	ev.env.unbind()
	s.pool.Put(ev)
}

// Eval returns the rules that fire for in.Event, in order: the enabled
// rules for its kind whose condition holds and whose cooldown (checked
// through m; nil m ignores cooldowns) is not running, up to the first with
// stop. A rule whose condition fails to evaluate is skipped and its error
// is returned, joined with the others, next to the rules that did fire.
func (s *Set) Eval(ctx context.Context, in *Input, m Marker) ([]Match, error) {
	if in.Event == nil {
		return nil, errors.New("rules: Eval without an event")
	}
	if h := s.helpFor(in.Event); h != "" {
		return []Match{{Rule: HelpRule, Help: h}}, nil
	}
	rs := s.byKind[in.Event.Kind]
	if len(rs) == 0 {
		return nil, nil
	}
	ev := s.evaluator(in)
	defer s.release(ev)
	var out []Match
	var errs []error
	for _, r := range rs {
		if !r.fits(in.Event) {
			continue
		}
		if r.prefix != nil && !r.prefix.admits(in.Event.Message.Text) {
			continue
		}
		ok, err := ev.run(r.program)
		if err != nil {
			r.stats.errors.Add(1)
			errs = append(errs, &EvalError{Rule: r, Err: err})
			continue
		}
		if !ok {
			continue
		}
		if r.Cooldown != nil && m != nil {
			first, err := m.Mark(ctx, cooldownKey(r, in.Event), r.Cooldown.Window)
			if err != nil {
				r.stats.errors.Add(1)
				errs = append(errs, &EvalError{Rule: r, Err: fmt.Errorf("cooldown: %w", err)})
				continue
			}
			if !first {
				continue
			}
		}
		r.stats.matches.Add(1)
		out = append(out, Match{Rule: r})
		if r.Stop {
			break
		}
	}
	return out, errors.Join(errs...)
}

// EvalError is a rule whose condition failed at event time.
type EvalError struct {
	Rule *Rule
	Err  error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("%s:%d:%d: rule %q: %v", e.Rule.File, e.Rule.Line, e.Rule.Col, e.Rule.Name, e.Err)
}

func (e *EvalError) Unwrap() error { return e.Err }

// cooldownKey names a rule's cooldown mark for an event.
func cooldownKey(r *Rule, ev *event.Event) string {
	var b strings.Builder
	b.WriteString("rule:")
	b.WriteString(r.Name)
	if r.Cooldown.PerConversation {
		b.WriteString("|conversation:")
		b.WriteString(ev.Conversation.ID)
	}
	if r.Cooldown.PerParticipant {
		b.WriteString("|participant:")
		b.WriteString(strings.ToLower(ev.Participant.URI))
	}
	return b.String()
}

// AcceptInvitation applies the invitation policy to an invitation.received
// input: true when the files set none. The answer is the decision to
// follow even with an error: a policy that fails to evaluate declines
// (fails closed), returns the error to log and counts it in
// InvitationErrors.
func (s *Set) AcceptInvitation(in *Input) (accept bool, err error) {
	if s.invitation == nil {
		return true, nil
	}
	ev := s.evaluator(in)
	defer s.release(ev)
	ok, err := ev.run(s.invitation)
	if err != nil {
		s.invErrors.Add(1)
		return false, fmt.Errorf("invitations.accept: %w; the invitation is declined", err)
	}
	return ok, nil
}

// InvitationErrors counts the invitations whose policy failed to evaluate
// (and that were therefore declined) since the Set was loaded.
func (s *Set) InvitationErrors() uint64 { return s.invErrors.Load() }

// Observe records one handler run of r (its duration and error) in the
// rule's counters.
func (s *Set) Observe(r *Rule, d time.Duration, err error) {
	r.stats.runs.Add(1)
	r.stats.runNanos.Add(int64(d))
	if err != nil {
		r.stats.errors.Add(1)
	}
}

// Stats returns the counters of every rule, in evaluation order.
func (s *Set) Stats() []RuleStats {
	out := make([]RuleStats, len(s.all))
	for i, r := range s.all {
		out[i] = RuleStats{
			Name:    r.Name,
			Matches: r.stats.matches.Load(),
			Errors:  r.stats.errors.Load(),
			Runs:    r.stats.runs.Load(),
			RunTime: time.Duration(r.stats.runNanos.Load()),
		}
	}
	return out
}

// cleaner is implemented by handler instances that hold resources
// (handlers.Cleaner).
type cleaner interface{ Cleanup() error }

// Close calls Cleanup on every handler instance that has one, once.
func (s *Set) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for _, r := range s.all {
			for _, st := range append(slices.Clip(r.Do), r.OnError...) {
				if c, ok := st.Instance.(cleaner); ok {
					if err := c.Cleanup(); err != nil {
						errs = append(errs, fmt.Errorf("rule %q: %s: %w", r.Name, st.Plugin, err))
					}
				}
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
