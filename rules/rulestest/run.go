package rulestest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
	"github.com/ucwabot/ucwabot/rules"
)

// HandlerTimeout bounds one handler call of a case.
const HandlerTimeout = 10 * time.Second

// Run runs cases on set, in order. Cooldown marks are kept in memory
// across the cases, so a later case sees the marks of earlier ones; each
// mark expires by the cases' own clock.
func Run(set *rules.Set, file string, cases []Case) (*Report, error) {
	m := &memMarker{marks: map[string]time.Time{}}
	rep := &Report{}
	for i, c := range cases {
		rep.Results = append(rep.Results, runCase(set, m, file, i, c))
	}
	return rep, nil
}

// conversation is what a case carries from one step to the next.
type conversation struct {
	set   *rules.Set
	m     *memMarker
	c     Case
	state *event.State
	// persons are the participants' states across the case's steps.
	persons map[string]*event.State
	rec     *handlerstest.Recorder
	log     logrus.FieldLogger
}

func runCase(set *rules.Set, m *memMarker, file string, i int, c Case) Result {
	res := Result{Case: c.Name, File: file, Line: c.Line, Rules: []string{}, Calls: []string{}}
	conv := &conversation{set: set, m: m, c: c, state: newState(c.State), persons: map[string]*event.State{}, rec: handlerstest.NewRecorder(), log: discardLog()}
	for uri, a := range c.Presence {
		conv.rec.SetPresence(uri, a)
	}
	steps := c.Steps
	single := len(steps) == 0
	if single {
		steps = []Step{{Event: c.Event, Expect: c.Expect}}
	}
	for j, s := range steps {
		prefix := ""
		if !single {
			prefix = fmt.Sprintf("step %d (%s, line %d): ", j+1, s.Event.Kind, s.Line)
		}
		rs, calls, fails := conv.step(i, j, s)
		res.Rules = append(res.Rules, rs...)
		res.Calls = append(res.Calls, calls...)
		for _, f := range fails {
			res.Failures = append(res.Failures, prefix+f)
		}
	}
	return res
}

// step runs one event: the rules, then (when the step asserts their
// effects) the handlers of the rules that fired, and checks the step's
// expectations.
func (cv *conversation) step(caseIndex, stepIndex int, s Step) (ruleNames, calls, fails []string) {
	now := time.Now()
	for _, t := range []string{cv.c.Now, s.Now} {
		if t != "" {
			now, _ = time.Parse(time.RFC3339, t)
		}
	}
	cv.m.now = now
	bot := cv.c.Bot
	if bot == "" {
		bot = "sip:bot@example.com"
	}
	ev := s.Event.toEvent(bot, now, caseIndex, stepIndex)
	in := &rules.Input{
		Event: ev,
		State: cv.state.Map(),
		Presence: func(uri string) (event.Presence, bool) {
			for u, a := range cv.c.Presence {
				if strings.EqualFold(u, uri) {
					return event.Presence{URI: u, Availability: a}, true
				}
			}
			return event.Presence{}, false
		},
		Bot:    rules.Bot{Account: bot},
		Now:    now,
		Person: cv.person(ev).Map(),
	}
	matches, err := cv.set.Eval(context.Background(), in, cv.m)
	if err != nil {
		fails = append(fails, "evaluation error: "+err.Error())
	}
	ruleNames, calls = []string{}, []string{}
	for _, mt := range matches {
		ruleNames = append(ruleNames, mt.Rule.Name)
		for _, st := range mt.Rule.Do {
			calls = append(calls, st.Plugin)
		}
	}
	x := s.Expect
	if w := x.Rules; w != nil && !slices.Equal(ruleNames, *w) {
		fails = append(fails, fmt.Sprintf("rules: got %s, want %s", list(ruleNames), list(*w)))
	}
	if w := x.Calls; w != nil && !slices.Equal(calls, *w) {
		fails = append(fails, fmt.Sprintf("calls: got %s, want %s", list(calls), list(*w)))
	}
	var actions []handlerstest.Action
	if x.runs() {
		var hf []string
		actions, hf = cv.handle(ev, matches)
		fails = append(fails, hf...)
	}
	if w := x.Invitation; w != "" {
		fails = append(fails, cv.invitation(in, actions, w)...)
	}
	if x.runs() {
		fails = append(fails, checkEffects(x, actions, cv.state)...)
	}
	return ruleNames, calls, fails
}

// handle runs the handlers of the matches in order, as the engine does,
// and returns what they did through the responder.
func (cv *conversation) handle(ev *event.Event, matches []rules.Match) ([]handlerstest.Action, []string) {
	var fails []string
	before := len(cv.rec.Actions())
	for _, mt := range matches {
		if mt.Help != "" {
			if err := cv.rec.Say(context.Background(), mt.Help); err != nil {
				fails = append(fails, "help answer: "+err.Error())
			}
			continue
		}
		run := func(list string, i int, st rules.Step, failed error) error {
			where := fmt.Sprintf("rule %q %s[%d] %s", mt.Rule.Name, list, i, st.Plugin)
			h, ok := st.Instance.(handlers.Handler)
			if !ok {
				fails = append(fails, where+": no handler was built (load the rules with the plugins to run handlers)")
				return nil
			}
			req := &handlers.Request{
				Event:  ev,
				State:  cv.state,
				Rule:   handlers.Rule{Name: mt.Rule.Name, Handler: st.Plugin, Index: i, File: st.File, Line: st.Line},
				Log:    cv.log,
				Reply:  cv.rec,
				Failed: failed,
				Person: cv.person(ev),
				Timers: noTimers{},
			}
			err := callHandler(h, req)
			if err != nil && (list != "do" || len(mt.Rule.OnError) == 0) {
				fails = append(fails, where+": "+err.Error())
			}
			return err
		}
		for i, st := range mt.Rule.Do {
			if err := run("do", i, st, nil); err != nil && len(mt.Rule.OnError) > 0 {
				for j, oe := range mt.Rule.OnError {
					_ = run("on_error", j, oe, err)
				}
				break
			}
		}
	}
	return cv.rec.Actions()[before:], fails
}

func callHandler(h handlers.Handler, req *handlers.Request) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), HandlerTimeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("handler panicked: %v", v)
		}
	}()
	return h.Handle(ctx, req)
}

// invitation checks how an invitation is answered: as a handler answered
// it, else as the policy says (a policy that fails declines).
func (cv *conversation) invitation(in *rules.Input, actions []handlerstest.Action, want string) []string {
	got := ""
	for _, a := range actions {
		if a.Op == "accept" || a.Op == "decline" {
			got = a.Op
			break
		}
	}
	var fails []string
	if got == "" {
		ok, err := cv.set.AcceptInvitation(in)
		got = "decline"
		if ok {
			got = "accept"
		}
		if err != nil {
			fails = append(fails, "invitation: "+err.Error())
		}
	}
	if got != want {
		fails = append(fails, fmt.Sprintf("invitation: got %s, want %s", got, want))
	}
	return fails
}

// checkEffects compares the handlers' actions and the state with the
// expectation.
func checkEffects(x Expect, actions []handlerstest.Action, st *event.State) []string {
	var fails []string
	if w := x.Replies; w != nil {
		got := []string{}
		for _, a := range actions {
			if a.Op == "say" || a.Op == "html" {
				got = append(got, a.Text)
			}
		}
		fails = append(fails, compareTexts("replies", got, *w)...)
	}
	if w := x.Actions; w != nil {
		got := make([]string, len(actions))
		for i, a := range actions {
			got[i] = actionString(a)
		}
		fails = append(fails, compareTexts("actions", got, *w)...)
	}
	names := make([]string, 0, len(x.State))
	for k := range x.State {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		want := x.State[k]
		raw := st.Raw(k)
		if want == nil {
			if raw != nil {
				fails = append(fails, fmt.Sprintf("state.%s: got %s, want it unset", k, raw))
			}
			continue
		}
		if raw == nil {
			fails = append(fails, fmt.Sprintf("state.%s: unset, want %s", k, jsonText(want)))
			continue
		}
		var got any
		_ = json.Unmarshal(raw, &got)
		if !reflect.DeepEqual(got, normalise(want)) {
			fails = append(fails, fmt.Sprintf("state.%s: got %s, want %s", k, raw, jsonText(want)))
		}
	}
	return fails
}

// compareTexts reports a list of texts that differs, naming the first
// text that differs so that a long reply shows where.
func compareTexts(what string, got, want []string) []string {
	if slices.Equal(got, want) {
		return nil
	}
	if len(got) != len(want) {
		return []string{fmt.Sprintf("%s: got %d %s, want %d:\n       got:  %s\n       want: %s", what, len(got), what, len(want), quoteList(got), quoteList(want))}
	}
	for i := range got {
		if got[i] != want[i] {
			return []string{fmt.Sprintf("%s[%d]:\n       got:  %q\n       want: %q", what, i, got[i], want[i])}
		}
	}
	return nil
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func actionString(a handlerstest.Action) string {
	switch a.Op {
	case "say", "html":
		return a.Op + ": " + a.Text
	case "invite", "subscribe":
		return a.Op + ": " + a.To
	case "start":
		return "start: " + a.To + ": " + a.Text
	}
	return a.Op
}

// normalise turns a YAML value into what the same value decodes to from
// JSON, for comparison with the state.
func normalise(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// newState returns the state a case starts with.
func newState(fields map[string]any) *event.State {
	raw := map[string]json.RawMessage{}
	for k, v := range fields {
		if b, err := json.Marshal(v); err == nil {
			raw[k] = b
		}
	}
	return event.NewState(raw)
}

func discardLog() logrus.FieldLogger {
	l := logrus.New()
	l.Out = io.Discard
	return l
}

// person returns the state kept for the event's participant in this case.
func (cv *conversation) person(ev *event.Event) *event.State {
	uri := strings.ToLower(ev.Participant.URI)
	if uri == "" || ev.Participant.Local {
		return event.NewState(nil)
	}
	if cv.persons[uri] == nil {
		cv.persons[uri] = event.NewState(nil)
	}
	return cv.persons[uri]
}

// noTimers takes the timers a case's steps set or cancel: a case checks
// one event, and timers fire later.
type noTimers struct{}

func (noTimers) Set(context.Context, string, time.Duration) error { return nil }
func (noTimers) Cancel(context.Context, string) error             { return nil }
