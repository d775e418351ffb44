package rules_test

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/rules"
)

// The benchmarks measure the goals of rule evaluation:
//
//   - BenchmarkEval_rules against BenchmarkEval_handwritten: the cost of
//     evaluating ten typical message.received conditions through a Set
//     against the same conditions written in Go, and the allocations per
//     evaluated rule (the allocs/rule metric);
//   - BenchmarkEval_1000_rules against BenchmarkEval_50_rules_of_the_kind:
//     rules of other kinds cost nothing at evaluation;
//   - BenchmarkLoad_1000_rules: the load time of a large file.

// benchRules are ten message.received rules with the conditions a
// helpdesk bot uses. handwritten below is the same list in Go.
const benchRules = `
version: 1
timezone: Europe/Berlin
vars:
  domain: contoso.com
  helpdesk: sip:carol@contoso.com
  office_hours: ["08:00", "18:00"]
rules:
  - name: hello
    on: message.received
    when: 'icontains(message.text, "hello") && !participant.local'
    do: [noop]
  - name: status
    on: message.received
    when: 'message.text matches "(?i)^status\\b"'
    do: [noop]
  - name: ask-step
    on: message.received
    when: 'state.step == "ask" && message.text != ""'
    do: [noop]
  - name: internal-vpn
    on: message.received
    when: 'domain(participant.uri) == vars.domain && icontains(message.text, "vpn")'
    do: [noop]
  - name: office-hours
    on: message.received
    when: 'between("09:00", "17:30") && !weekend()'
    do: [noop]
  - name: after-hours
    on: message.received
    when: '!between(vars.office_hours[0], vars.office_hours[1])'
    do: [noop]
  - name: urgent
    on: message.received
    when: 'icontains(message.text, "urgent") && available(vars.helpdesk)'
    do: [noop]
  - name: confirm
    on: message.received
    when: '(state.step ?? "") == "confirm" && iequals(message.text, "yes")'
    do: [noop]
  - name: external
    on: message.received
    when: 'domain(participant.uri) != "contoso.com" && conversation.direction == "Incoming"'
    do: [noop]
  - name: password
    on: message.received
    when: 'icontains(message.text, "password") && state.greeted == true'
    do: [noop]
`

const benchRuleCount = 10

var (
	berlin, _   = time.LoadLocation("Europe/Berlin")
	benchStatus = regexp.MustCompile(`(?i)^status\b`)
)

// benchInput is a message.received event at 10:30 on a Wednesday in
// Berlin, from a person of the organisation, in a conversation whose
// state asks for a step.
func benchInput() *rules.Input {
	ev := &event.Event{
		ID:           "e1",
		Kind:         event.MessageReceived,
		Account:      "sip:helpdesk@contoso.com",
		Time:         time.Date(2026, 3, 4, 10, 30, 0, 0, berlin),
		Conversation: event.Conversation{ID: "/conv/1", Direction: "Incoming"},
		Participant:  event.Participant{URI: "sip:Alice@Contoso.com", Name: "Alice"},
		Message:      event.Message{Text: "Hello, my VPN password expired, this is urgent", Direction: "Incoming"},
	}
	presence := map[string]event.Presence{
		"sip:carol@contoso.com": {URI: "sip:carol@contoso.com", Availability: "Online"},
	}
	return &rules.Input{
		Event: ev,
		State: map[string]any{"step": "ask", "greeted": true},
		Presence: func(uri string) (event.Presence, bool) {
			p, ok := presence[uri]
			return p, ok
		},
		Bot: rules.Bot{Account: "sip:helpdesk@contoso.com", Name: "Helpdesk"},
		Now: ev.Time,
	}
}

func mustLoad(b *testing.B, src string) *rules.Set {
	b.Helper()
	s, err := rules.LoadBytes(rules.Options{}, "bench.yaml", []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// domainOf is domain() written in Go.
func domainOf(uri string) string {
	s := strings.TrimPrefix(uri, "sip:")
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(s[at+1:])
}

// clockIn is between() written in Go; from and to are minutes after
// midnight.
func clockIn(now time.Time, from, to int) bool {
	m := now.Hour()*60 + now.Minute()
	if from <= to {
		return m >= from && m < to
	}
	return m >= from || m < to
}

// handwritten evaluates the conditions of benchRules in Go and returns the
// indexes of the rules that hold, as Eval returns its matches.
func handwritten(in *rules.Input, loc *time.Location, vars map[string]any) []int {
	ev := in.Event
	text := ev.Message.Text
	lower := func(s string) string { return strings.ToLower(s) }
	now := in.Now.In(loc)
	step, _ := in.State["step"].(string)
	var out []int
	add := func(i int, ok bool) {
		if ok {
			out = append(out, i)
		}
	}
	add(0, strings.Contains(lower(text), "hello") && !ev.Participant.Local)
	add(1, benchStatus.MatchString(text))
	add(2, step == "ask" && text != "")
	add(3, domainOf(ev.Participant.URI) == vars["domain"] && strings.Contains(lower(text), "vpn"))
	wd := now.Weekday()
	add(4, clockIn(now, 9*60, 17*60+30) && wd != time.Saturday && wd != time.Sunday)
	add(5, !clockIn(now, 8*60, 18*60))
	p, _ := in.Presence(vars["helpdesk"].(string))
	add(6, strings.Contains(lower(text), "urgent") && p.Available())
	add(7, step == "confirm" && strings.EqualFold(text, "yes"))
	add(8, domainOf(ev.Participant.URI) != "contoso.com" && ev.Conversation.Direction == "Incoming")
	greeted, _ := in.State["greeted"].(bool)
	add(9, strings.Contains(lower(text), "password") && greeted)
	return out
}

func names(ms []rules.Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Rule.Name)
	}
	return out
}

// TestHandwritten_agrees_with_the_rules makes sure the two sides of the
// evaluation benchmark compute the same thing.
func TestHandwritten_agrees_with_the_rules(t *testing.T) {
	s, err := rules.LoadBytes(rules.Options{}, "bench.yaml", []byte(benchRules))
	if err != nil {
		t.Fatal(err)
	}
	in := benchInput()
	for _, text := range []string{in.Event.Message.Text, "status of mail", "yes", "", "nothing"} {
		for _, st := range []map[string]any{in.State, {"step": "confirm"}, nil} {
			in.Event.Message.Text, in.State = text, st
			ms, err := s.Eval(context.Background(), in, nil)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, i := range handwritten(in, s.Location(), s.Vars()) {
				want = append(want, s.Rules()[i].Name)
			}
			if got := names(ms); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("text %q state %v: rules fire %v, handwritten %v", text, st, got, want)
			}
		}
	}
}

// mallocs returns the process's count of heap allocations so far.
func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

func BenchmarkEval_rules(b *testing.B) {
	s := mustLoad(b, benchRules)
	in := benchInput()
	ctx := context.Background()
	if ms, err := s.Eval(ctx, in, nil); err != nil || len(ms) == 0 {
		b.Fatalf("Eval = %v, %v", names(ms), err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	before := mallocs()
	for b.Loop() {
		if _, err := s.Eval(ctx, in, nil); err != nil {
			b.Fatal(err)
		}
	}
	after := mallocs()
	b.ReportMetric(float64(after-before)/float64(b.N)/benchRuleCount, "allocs/rule")
}

func BenchmarkEval_handwritten(b *testing.B) {
	s := mustLoad(b, benchRules)
	in := benchInput()
	loc, vars := s.Location(), s.Vars()
	b.ReportAllocs()
	b.ResetTimer()
	before := mallocs()
	for b.Loop() {
		if len(handwritten(in, loc, vars)) == 0 {
			b.Fatal("no condition holds")
		}
	}
	after := mallocs()
	b.ReportMetric(float64(after-before)/float64(b.N)/benchRuleCount, "allocs/rule")
}

// kindConditions are conditions for rules of every kind.
var kindConditions = []string{
	`!participant.local`,
	`icontains(message.text, "help")`,
	`domain(participant.uri) == "contoso.com"`,
	`(state.step ?? "") == "ask"`,
	`between("09:00", "17:30") && !weekend()`,
	`message.text matches "(?i)\\bstatus\\b"`,
	`available("sip:carol@contoso.com")`,
	`conversation.direction == "Incoming" && len(message.text) > 3`,
}

// kindRules writes a rules file with perKind rules on message.received
// and, when others is true, 19 rules on the other eleven kinds after each
// of them (1,000 rules for perKind 50). The message.received rules are
// the same in both cases.
func kindRules(perKind int, others bool) string {
	var b strings.Builder
	b.WriteString("version: 1\nrules:\n")
	rule := func(name string, k event.Kind, cond int) {
		fmt.Fprintf(&b, "  - name: %s\n    on: %s\n    when: '%s'\n    do:\n      - reply: { text: \"%s\" }\n",
			name, k, kindConditions[cond%len(kindConditions)], name)
	}
	var other []event.Kind
	for _, k := range event.Kinds() {
		if k != event.MessageReceived {
			other = append(other, k)
		}
	}
	n := 0
	for i := 0; i < perKind; i++ {
		rule(fmt.Sprintf("m%d", i), event.MessageReceived, i)
		if others {
			for j := 0; j < 19; j++ {
				rule(fmt.Sprintf("o%d", n), other[n%len(other)], n)
				n++
			}
		}
	}
	return b.String()
}

func benchKind(b *testing.B, src string, want int) {
	s := mustLoad(b, src)
	if got := len(s.Rules()); got != want {
		b.Fatalf("the set has %d rules, want %d", got, want)
	}
	ofKind := 0
	for _, r := range s.Rules() {
		if len(r.On) == 1 && r.On[0] == event.MessageReceived {
			ofKind++
		}
	}
	if ofKind != 50 {
		b.Fatalf("the set has %d message.received rules, want 50", ofKind)
	}
	in := benchInput()
	ctx := context.Background()
	if ms, err := s.Eval(ctx, in, nil); err != nil || len(ms) == 0 {
		b.Fatalf("Eval = %d matches, %v", len(ms), err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Eval(ctx, in, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEval_1000_rules(b *testing.B) { benchKind(b, kindRules(50, true), 1000) }

func BenchmarkEval_50_rules_of_the_kind(b *testing.B) { benchKind(b, kindRules(50, false), 50) }

func BenchmarkLoad_1000_rules(b *testing.B) {
	src := []byte(kindRules(50, true))
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		s, err := rules.LoadBytes(rules.Options{}, "bench.yaml", src)
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Rules()) != 1000 {
			b.Fatalf("loaded %d rules", len(s.Rules()))
		}
	}
}

// BenchmarkEval_50_command_rules is W1's rules (`bot bench`): fifty
// rules, each testing the text first against an anchored regular
// expression, one of which matches. The prefilter passes over the other
// forty-nine without running their programs.
func BenchmarkEval_50_command_rules(b *testing.B) {
	var src strings.Builder
	src.WriteString("rules:\n")
	for k := 0; k < 50; k++ {
		fmt.Fprintf(&src, "  - name: cmd%d\n    on: message.received\n    when: 'message.text matches \"(?i)^cmd%d\\\\b\"'\n    do:\n      - reply: {text: hi}\n", k, k)
	}
	s := mustLoad(b, src.String())
	in := benchInput()
	in.Event.Message.Text = "cmd37 how are things"
	ctx := context.Background()
	if ms, err := s.Eval(ctx, in, nil); err != nil || len(ms) != 1 || ms[0].Rule.Name != "cmd37" {
		b.Fatalf("Eval = %v, %v; want cmd37 alone", ms, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Eval(ctx, in, nil); err != nil {
			b.Fatal(err)
		}
	}
}
