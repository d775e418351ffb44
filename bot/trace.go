package bot

import (
	"encoding/json"
	"maps"
	"sync"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/rules"
)

// Tracer is told what the engine did with each event it handled: the
// rules evaluated and matched, each handler run with its latency and
// error, the conversation state before and after, and the replies sent
// (the web console's live view). Its methods are called from worker
// goroutines, concurrently for different conversations, and must not
// block.
type Tracer interface {
	// Tracing reports whether traces are wanted now. While it is false
	// the engine records nothing: an event costs what it costs without a
	// tracer.
	Tracing() bool
	// Trace receives the trace of one handled event; the tracer owns it.
	Trace(t *Trace)
}

// WithTracer sets a tracer told about every handled event while its
// Tracing reports true.
func WithTracer(t Tracer) Option { return func(e *Engine) { e.tracer = t } }

// Trace is what the engine did with one event.
type Trace struct {
	Account      string
	Conversation string
	EventID      string
	Kind         event.Kind
	// From and FromName are the SIP URI and name of the person who caused
	// the event (the bot itself for its own joins), Text what they wrote.
	From        string
	FromName    string
	Text        string
	Redelivered bool
	Start       time.Time
	Duration    time.Duration
	// RuleSet is the version of the rule set that handled the event;
	// Evaluated names its rules for the event's kind, Matched those that
	// fired, in order.
	RuleSet   string
	Evaluated []string
	Matched   []string
	Steps     []TraceStep
	// Replies are the texts the handlers sent to the conversation.
	Replies []string
	// StateBefore and StateAfter are the conversation's fields (JSON
	// values) before the rules ran and after the handlers' changes.
	StateBefore map[string]json.RawMessage
	StateAfter  map[string]json.RawMessage
	// Err is the event's first error, "" when none.
	Err string
}

// TraceStep is one handler call of a matched rule.
type TraceStep struct {
	Rule     string
	Plugin   string
	Duration time.Duration
	Err      string
	// Shadow: the engine runs in shadow mode and did not call the
	// handler.
	Shadow bool
}

// traceRec collects one event's trace. A nil *traceRec records nothing,
// so that the event path calls its methods without a check.
type traceRec struct {
	to Tracer
	mu sync.Mutex // replies come from handlers, which may run concurrently
	t  Trace
}

// startTrace begins the trace of ev, or returns nil when nobody traces.
func (a *account) startTrace(ev *event.Event, fields map[string]json.RawMessage, rp replay) *traceRec {
	if a.e.tracer == nil || !a.e.tracer.Tracing() {
		return nil
	}
	return &traceRec{to: a.e.tracer, t: Trace{
		Account:      a.addr,
		Conversation: ev.Conversation.ID,
		EventID:      ev.ID,
		Kind:         ev.Kind,
		From:         ev.Participant.URI,
		FromName:     ev.Participant.Name,
		Text:         ev.Message.Text,
		Redelivered:  rp.redelivered,
		Start:        time.Now(),
		StateBefore:  maps.Clone(fields),
	}}
}

// rules records the set that handles the event.
func (r *traceRec) rules(set *rules.Set, kind event.Kind) {
	if r == nil || set == nil {
		return
	}
	r.t.RuleSet = set.Version()
	for _, rl := range set.Rules() {
		for _, k := range rl.On {
			if k == kind {
				r.t.Evaluated = append(r.t.Evaluated, rl.Name)
				break
			}
		}
	}
}

// step records one handler call.
func (r *traceRec) step(rule, plugin string, d time.Duration, err error, shadow bool) {
	if r == nil {
		return
	}
	s := TraceStep{Rule: rule, Plugin: plugin, Duration: d, Shadow: shadow}
	if err != nil {
		s.Err = err.Error()
	}
	r.mu.Lock()
	r.t.Steps = append(r.t.Steps, s)
	r.mu.Unlock()
}

// reply records a text sent to the conversation.
func (r *traceRec) reply(text string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.t.Replies = append(r.t.Replies, text)
	r.mu.Unlock()
}

// finish completes the trace with the rules that fired, the state
// changes and the first error, and hands it to the tracer.
func (r *traceRec) finish(fired []string, set map[string]json.RawMessage, deleted []string, err error) {
	if r == nil {
		return
	}
	r.mu.Lock()
	t := r.t
	r.mu.Unlock()
	t.Duration = time.Since(t.Start)
	t.Matched = fired
	after := maps.Clone(t.StateBefore)
	if after == nil {
		after = map[string]json.RawMessage{}
	}
	maps.Copy(after, set)
	for _, k := range deleted {
		delete(after, k)
	}
	t.StateAfter = after
	if err != nil {
		t.Err = err.Error()
	}
	r.to.Trace(&t)
}
