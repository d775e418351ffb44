package bot

import (
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
)

// traceLog is a Tracer that keeps every trace while on is set.
type traceLog struct {
	on     atomic.Bool
	asked  atomic.Int64
	mu     sync.Mutex
	traces []*Trace
}

func (l *traceLog) Tracing() bool { l.asked.Add(1); return l.on.Load() }

func (l *traceLog) Trace(t *Trace) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.traces = append(l.traces, t)
}

func (l *traceLog) messages() []*Trace {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*Trace
	for _, t := range l.traces {
		if t.Kind == event.MessageReceived {
			out = append(out, t)
		}
	}
	return out
}

func startTraced(t *testing.T, tl *traceLog) (*running, func(string) string) {
	t.Helper()
	sim := newSim(t, 1)
	set := loadRules(t, `
rules:
  - name: count
    on: [message.received]
    do:
      - count: {}
      - echo: {prefix: "got "}
  - name: never
    on: [message.received]
    when: message.text == "no such text"
    do:
      - echo: {}
`)
	obs := newRecorder()
	e, err := New(testConfig(sim), WithStore(tempBolt(t)), WithRules(staticRules{set}), WithTracer(tl), WithObserver(obs), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	r := &running{e: e, obs: obs}
	r.launch(t)
	conv, err := sim.Invite(aliceURI, botURI, "one")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "got one")
	say := func(text string) string {
		if err := conv.Say(aliceURI, text); err != nil {
			t.Fatal(err)
		}
		return conv.ID()
	}
	return r, say
}

func TestEngine_traces_rules_handlers_state_and_replies_of_each_event(t *testing.T) {
	tl := &traceLog{}
	tl.on.Store(true)
	_, say := startTraced(t, tl)
	say("two")
	deadline := time.Now().Add(10 * time.Second)
	for len(tl.messages()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	ms := tl.messages()
	if len(ms) != 2 {
		t.Fatalf("traces of messages: %d, want 2", len(ms))
	}
	tr := ms[1]
	if tr.Account != botURI || tr.Conversation == "" || tr.Text != "two" || tr.From != aliceURI {
		t.Errorf("trace names account %q conversation %q text %q from %q", tr.Account, tr.Conversation, tr.Text, tr.From)
	}
	if !slices.Equal(tr.Evaluated, []string{"count", "never"}) || !slices.Equal(tr.Matched, []string{"count"}) {
		t.Errorf("evaluated %v matched %v, want [count never] and [count]", tr.Evaluated, tr.Matched)
	}
	if len(tr.Steps) != 2 || tr.Steps[0].Plugin != "count" || tr.Steps[1].Plugin != "echo" || tr.Steps[1].Err != "" {
		t.Errorf("steps %+v, want count then echo without error", tr.Steps)
	}
	if !slices.Equal(tr.Replies, []string{"got two"}) {
		t.Errorf("replies %q, want [got two]", tr.Replies)
	}
	if b, a := string(tr.StateBefore["count"]), string(tr.StateAfter["count"]); b != "1" || a != "2" {
		t.Errorf("state count before %q after %q, want 1 and 2", b, a)
	}
	if tr.RuleSet == "" || tr.Duration <= 0 || tr.Start.IsZero() {
		t.Errorf("trace without rule set version, duration or start: %+v", tr)
	}
}

func TestEngine_records_no_trace_while_the_tracer_is_not_tracing(t *testing.T) {
	tl := &traceLog{}
	r, say := startTraced(t, tl)
	say("two")
	r.obs.waitFor(t, "second message handled", 10*time.Second, func(evs []event.Event) bool {
		n := 0
		for _, ev := range evs {
			if ev.Kind == event.MessageReceived {
				n++
			}
		}
		return n >= 2
	})
	if n := len(tl.messages()); n != 0 {
		t.Fatalf("%d traces recorded while Tracing was false", n)
	}
	if tl.asked.Load() == 0 {
		t.Fatal("the engine never asked the tracer whether to trace")
	}
}

// idleTracer is a tracer nobody watches, as the console's hub is most of
// the time.
type idleTracer struct{ on bool }

func (t idleTracer) Tracing() bool { return t.on }
func (idleTracer) Trace(*Trace)    {}

// BenchmarkTraceHook is what the trace hook adds to one event's handling:
// nothing recorded without a tracer or while nobody watches (no
// allocation), a full trace while someone does.
func BenchmarkTraceHook(b *testing.B) {
	ev := &event.Event{ID: "e1", Kind: event.MessageReceived, Conversation: event.Conversation{ID: "c1"},
		Participant: event.Participant{URI: "sip:alice@example.com"}, Message: event.Message{Text: "hi"}}
	fields := map[string]json.RawMessage{"count": json.RawMessage("1")}
	set := map[string]json.RawMessage{"count": json.RawMessage("2")}
	fired := []string{"count"}
	for _, c := range []struct {
		name string
		t    Tracer
	}{{"no_tracer", nil}, {"nobody_watching", idleTracer{}}, {"watching", idleTracer{on: true}}} {
		b.Run(c.name, func(b *testing.B) {
			a := &account{e: &Engine{tracer: c.t}, addr: "sip:bot@example.com"}
			b.ReportAllocs()
			for b.Loop() {
				tr := a.startTrace(ev, fields, replay{})
				tr.rules(nil, ev.Kind)
				tr.step("count", "count", time.Microsecond, nil, false)
				tr.reply("got hi")
				tr.finish(fired, set, nil, nil)
			}
		})
	}
}

func TestEngine_traces_the_steps_shadow_mode_did_not_run(t *testing.T) {
	tl := &traceLog{}
	tl.on.Store(true)
	sim := newSim(t, 1)
	cfg := testConfig(sim)
	cfg.Shadow = true
	set := loadRules(t, `
rules:
  - name: echo
    on: [message.received]
    do:
      - echo: {}
`)
	e, err := New(cfg, WithStore(tempBolt(t)), WithRules(staticRules{set}), WithTracer(tl), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	r := &running{e: e, obs: newRecorder()}
	r.launch(t)
	if _, err := sim.Invite(aliceURI, botURI, "one"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(tl.messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	ms := tl.messages()
	if len(ms) != 1 {
		t.Fatalf("traces of messages: %d, want 1", len(ms))
	}
	if s := ms[0].Steps; len(s) != 1 || !s[0].Shadow || s[0].Plugin != "echo" || len(ms[0].Replies) != 0 {
		t.Errorf("shadow trace steps %+v replies %q, want one echo step marked shadow and no reply", s, ms[0].Replies)
	}
}
