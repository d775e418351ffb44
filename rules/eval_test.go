package rules_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/rules"
)

func fired(ms []rules.Match) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Rule.Name)
	}
	return out
}

func statsOf(s *rules.Set, name string) rules.RuleStats {
	for _, st := range s.Stats() {
		if st.Name == name {
			return st
		}
	}
	return rules.RuleStats{}
}

// memMarker is a Marker over a map with a settable clock.
type memMarker struct {
	mu    sync.Mutex
	now   time.Time
	marks map[string]time.Time
	keys  []string
	err   error
}

func newMarker() *memMarker {
	return &memMarker{now: time.Unix(1_800_000_000, 0), marks: map[string]time.Time{}}
}

func (m *memMarker) Mark(_ context.Context, key string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return false, m.err
	}
	m.keys = append(m.keys, key)
	if exp, ok := m.marks[key]; ok && m.now.Before(exp) {
		return false, nil
	}
	m.marks[key] = m.now.Add(ttl)
	return true, nil
}

func msgKind(k string) *event.Event { e := msg(""); e.Kind = event.Kind(k); return e }

func msg(text string) *event.Event {
	return &event.Event{
		ID: "e1", Kind: event.MessageReceived, Account: "sip:bot@contoso.com",
		Conversation: event.Conversation{ID: "c1", Subject: "Printer", ThreadID: "t1", Direction: "Incoming"},
		Participant:  event.Participant{URI: "sip:Alice@Contoso.com", Name: "Alice"},
		Message:      event.Message{Text: text, Direction: "Incoming"},
	}
}

func eval(t *testing.T, s *rules.Set, in *rules.Input, m rules.Marker) []string {
	t.Helper()
	ms, err := s.Eval(context.Background(), in, m)
	if err != nil {
		t.Fatalf("Eval: %v", err)
	}
	return fired(ms)
}

func TestEvalKindIndex(t *testing.T) {
	s := loadText(t, rules.Options{}, `rules:
  - name: typing
    on: typing
    when: 'state.x.y == 1'
    do: [leave]
  - name: msg
    on: [message.received, typing]
    do: [leave]
`)
	// The typing rule would fail (nil map access) if it were evaluated.
	got := eval(t, s, &rules.Input{Event: msg("hi")}, nil)
	if !slices.Equal(got, []string{"msg"}) {
		t.Errorf("fired %v", got)
	}
	if st := statsOf(s, "typing"); st.Errors != 0 || st.Matches != 0 {
		t.Errorf("typing rule was evaluated: %+v", st)
	}
	if ms, err := s.Eval(context.Background(), &rules.Input{Event: &event.Event{Kind: event.ConversationEnded}}, nil); len(ms) != 0 || err != nil {
		t.Errorf("no rule for the kind: %v, %v", ms, err)
	}
	if _, err := s.Eval(context.Background(), &rules.Input{}, nil); err == nil {
		t.Error("Eval without an event succeeded")
	}
}

func TestEvalEnvironment(t *testing.T) {
	s := loadText(t, rules.Options{Location: time.UTC}, `vars:
  helpdesk: sip:helpdesk@contoso.com
  hours: ["09:00", "17:30"]
  limit: 3
rules:
  - {name: event, on: message.received, do: [leave], when: 'event.id == "e1" && event.account == bot.account && event.message.text == "status please"'}
  - {name: participant, on: message.received, do: [leave], when: 'participant.uri == "sip:Alice@Contoso.com" && participant.name == "Alice" && !participant.local'}
  - {name: conversation, on: message.received, do: [leave], when: 'conversation.id == "c1" && conversation.subject == "Printer" && conversation.thread_id == "t1" && conversation.direction == "Incoming"'}
  - {name: message, on: message.received, do: [leave], when: 'message.text == "status please" && message.direction == "Incoming" && message.html == "" && message.reason == ""'}
  - {name: state, on: message.received, do: [leave], when: 'state.step == 2 && (state.missing ?? "none") == "none"'}
  - {name: bot, on: message.received, do: [leave], when: 'bot.account == "sip:bot@contoso.com" && bot.name == "Helpdesk"'}
  - {name: vars, on: message.received, do: [leave], when: 'vars.helpdesk == "sip:helpdesk@contoso.com" && vars.hours[1] == "17:30" && vars.limit == 3'}
  - {name: now, on: message.received, do: [leave], when: 'now.Year() == 2026 && now - event.time > duration("5m")'}
  - {name: builtin, on: message.received, do: [leave], when: 'len(message.text) == 13 && lower("ABC") == "abc"'}
  - {name: matches, on: message.received, do: [leave], when: 'message.text matches "(?i)^STATUS\\b"'}
  - {name: no match, on: message.received, do: [leave], when: 'message.text matches "^help"'}
  - {name: false, on: message.received, do: [leave], when: 'participant.local'}
`)
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	ev := msg("status please")
	ev.Time = now.Add(-10 * time.Minute)
	got := eval(t, s, &rules.Input{
		Event: ev, State: map[string]any{"step": 2},
		Bot: rules.Bot{Account: "sip:bot@contoso.com", Name: "Helpdesk"}, Now: now,
	}, nil)
	want := []string{"event", "participant", "conversation", "message", "state", "bot", "vars", "now", "builtin", "matches"}
	if !slices.Equal(got, want) {
		t.Errorf("fired %v\nwant  %v", got, want)
	}
	// A nil State reads as empty.
	s2 := loadText(t, rules.Options{}, `rules:
  - {name: r, on: message.received, do: [leave], when: '(state.step ?? 0) == 0'}
`)
	if got := eval(t, s2, &rules.Input{Event: msg("x")}, nil); !slices.Equal(got, []string{"r"}) {
		t.Errorf("nil state: fired %v", got)
	}
}

func TestEvalHelpers(t *testing.T) {
	cases := []struct {
		when string
		want bool
	}{
		{`icontains(message.text, "PRINTER")`, true},
		{`icontains(message.text, "scanner")`, false},
		{`iprefix(message.text, "MY printer")`, true},
		{`iprefix(message.text, "printer")`, false},
		{`iprefix("a", "abc")`, false},
		{`isuffix(message.text, "BROKEN")`, true},
		{`isuffix(message.text, "my")`, false},
		{`iequals(participant.uri, "sip:alice@contoso.com")`, true},
		{`iequals(participant.uri, "sip:bob@contoso.com")`, false},
		{`domain(participant.uri) == "contoso.com"`, true},
		{`user(participant.uri) == "Alice"`, true},
		{`domain("sip:bob@Example.ORG;transport=tls") == "example.org"`, true},
		{`user("bob") == "bob" && domain("bob") == ""`, true},
		{`presence("sip:bob@contoso.com").availability == "Busy"`, true},
		{`presence("sip:bob@contoso.com").activity == "in-a-meeting"`, true},
		{`presence("sip:nobody@contoso.com").availability == ""`, true},
		{`presence("sip:nobody@contoso.com").uri == "sip:nobody@contoso.com"`, true},
		{`available("sip:carol@contoso.com")`, true},
		{`available("sip:dave@contoso.com")`, true},
		{`available("sip:bob@contoso.com")`, false},
		{`available("sip:nobody@contoso.com")`, false},
	}
	var b strings.Builder
	b.WriteString("rules:\n")
	for i, c := range cases {
		fmt.Fprintf(&b, "  - name: r%d\n    on: message.received\n    do: [leave]\n    when: '%s'\n", i, c.when)
	}
	s := loadText(t, rules.Options{}, b.String())
	pres := map[string]event.Presence{
		"sip:bob@contoso.com":   {URI: "sip:bob@contoso.com", Availability: "Busy", Activity: "in-a-meeting"},
		"sip:carol@contoso.com": {URI: "sip:carol@contoso.com", Availability: "Online"},
		"sip:dave@contoso.com":  {URI: "sip:dave@contoso.com", Availability: "IdleOnline"},
	}
	got := eval(t, s, &rules.Input{
		Event:    msg("My printer is broken"),
		Presence: func(uri string) (event.Presence, bool) { p, ok := pres[uri]; return p, ok },
	}, nil)
	for i, c := range cases {
		if slices.Contains(got, fmt.Sprintf("r%d", i)) != c.want {
			t.Errorf("%s = %v, want %v", c.when, !c.want, c.want)
		}
	}
	// Without a presence source every contact is unknown.
	got = eval(t, s, &rules.Input{Event: msg("My printer is broken")}, nil)
	for i, c := range cases {
		if strings.Contains(c.when, `available("sip:carol`) && slices.Contains(got, fmt.Sprintf("r%d", i)) {
			t.Errorf("%s true without presence", c.when)
		}
	}
}

func TestEvalTimeHelpers(t *testing.T) {
	s := loadText(t, rules.Options{}, `timezone: Europe/Berlin
rules:
  - {name: office, on: message.received, do: [leave], when: 'between("09:00", "17:30")'}
  - {name: night, on: message.received, do: [leave], when: 'between("22:00", "06:00")'}
  - {name: monday, on: message.received, do: [leave], when: 'weekday() == "Monday"'}
  - {name: weekend, on: message.received, do: [leave], when: 'weekend()'}
  - {name: hour, on: message.received, do: [leave], when: 'now.Hour() == 9'}
`)
	if s.Location().String() != "Europe/Berlin" {
		t.Errorf("Location = %v", s.Location())
	}
	cases := []struct {
		now  time.Time
		want []string
	}{
		// 08:00 UTC on Monday 2 March 2026 is 09:00 in Berlin (CET).
		{time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), []string{"office", "monday", "hour"}},
		// 16:29 UTC is 17:29: still office hours; 16:30 UTC is 17:30: not.
		{time.Date(2026, 3, 2, 16, 29, 0, 0, time.UTC), []string{"office", "monday"}},
		{time.Date(2026, 3, 2, 16, 30, 0, 0, time.UTC), []string{"monday"}},
		// Over midnight: 23:00 Monday and 05:59 Tuesday in Berlin, not 06:00.
		{time.Date(2026, 3, 2, 22, 0, 0, 0, time.UTC), []string{"night", "monday"}},
		{time.Date(2026, 3, 3, 4, 59, 0, 0, time.UTC), []string{"night"}},
		{time.Date(2026, 3, 3, 5, 0, 0, 0, time.UTC), []string{}},
		// 23:30 UTC on Friday is 00:30 on Saturday in Berlin.
		{time.Date(2026, 3, 6, 23, 30, 0, 0, time.UTC), []string{"night", "weekend"}},
		// 23:30 UTC on Sunday is Monday in Berlin.
		{time.Date(2026, 3, 8, 23, 30, 0, 0, time.UTC), []string{"night", "monday"}},
	}
	for _, c := range cases {
		got := eval(t, s, &rules.Input{Event: msg("x"), Now: c.now}, nil)
		if !slices.Equal(got, c.want) {
			t.Errorf("at %s: fired %v, want %v", c.now.In(s.Location()).Format(time.RFC1123), got, c.want)
		}
	}
	// Options.Location overrides the files' timezone.
	s2 := loadText(t, rules.Options{Location: time.UTC}, `timezone: Europe/Berlin
rules:
  - {name: hour, on: message.received, do: [leave], when: 'now.Hour() == 8'}
`)
	if got := eval(t, s2, &rules.Input{Event: msg("x"), Now: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}, nil); !slices.Equal(got, []string{"hour"}) {
		t.Errorf("Options.Location: fired %v", got)
	}
}

func TestEvalPriorityStopEnabled(t *testing.T) {
	s := loadText(t, rules.Options{}, `rules:
  - {name: a, on: message.received, do: [leave]}
  - {name: b, on: message.received, do: [leave], priority: 5}
  - {name: c, on: message.received, do: [leave]}
  - {name: d, on: message.received, do: [leave], priority: 5}
  - {name: e, on: message.received, do: [leave], priority: -1}
  - {name: off, on: message.received, do: [leave], priority: 9, enabled: false}
  - {name: f, on: message.received, do: [leave]}
`)
	if got := eval(t, s, &rules.Input{Event: msg("x")}, nil); !slices.Equal(got, []string{"b", "d", "a", "c", "f", "e"}) {
		t.Errorf("order %v", got)
	}
	var all []string
	for _, r := range s.Rules() {
		all = append(all, r.Name)
	}
	if !slices.Equal(all, []string{"off", "b", "d", "a", "c", "f", "e"}) {
		t.Errorf("Rules() = %v", all)
	}
	s2 := loadText(t, rules.Options{}, `rules:
  - {name: a, on: message.received, do: [leave]}
  - {name: skip, on: message.received, do: [leave], stop: true, when: 'message.text == "no"'}
  - {name: stop, on: message.received, do: [leave], stop: true}
  - {name: after, on: message.received, do: [leave]}
  - {name: other kind, on: typing, do: [leave]}
`)
	if got := eval(t, s2, &rules.Input{Event: msg("x")}, nil); !slices.Equal(got, []string{"a", "stop"}) {
		t.Errorf("stop: fired %v", got)
	}
}

func TestEvalCooldown(t *testing.T) {
	s := loadText(t, rules.Options{}, `rules:
  - {name: both, on: message.received, do: [leave], cooldown: {window: 1h}}
  - {name: person, on: message.received, do: [leave], cooldown: {window: 1h, per: [participant]}}
  - {name: conv, on: message.received, do: [leave], cooldown: {window: 1h, per: conversation}}
  - {name: account, on: message.received, do: [leave], cooldown: {window: 2d, per: []}}
`)
	r := s.Rules()
	if c := r[0].Cooldown; c.Window != time.Hour || !c.PerConversation || !c.PerParticipant {
		t.Errorf("default cooldown %+v", c)
	}
	if c := r[3].Cooldown; c.Window != 48*time.Hour || c.PerConversation || c.PerParticipant {
		t.Errorf("account cooldown %+v", c)
	}
	m := newMarker()
	ev := func(conv, who string) *rules.Input {
		e := msg("x")
		e.Conversation.ID, e.Participant.URI = conv, who
		return &rules.Input{Event: e}
	}
	steps := []struct {
		in   *rules.Input
		want []string
	}{
		{ev("c1", "sip:alice@x"), []string{"both", "person", "conv", "account"}},
		{ev("c1", "sip:alice@x"), []string{}},
		{ev("c1", "sip:ALICE@x"), []string{}}, // URIs compare case-insensitively
		{ev("c2", "sip:alice@x"), []string{"both", "conv"}},
		{ev("c1", "sip:bob@x"), []string{"both", "person"}},
		{ev("c2", "sip:bob@x"), []string{"both"}},
	}
	for i, st := range steps {
		if got := eval(t, s, st.in, m); !slices.Equal(got, st.want) {
			t.Errorf("step %d: fired %v, want %v", i, got, st.want)
		}
	}
	// After the window, marks expire (the account one lasts 2 days).
	m.now = m.now.Add(time.Hour + time.Second)
	if got := eval(t, s, ev("c1", "sip:alice@x"), m); !slices.Equal(got, []string{"both", "person", "conv"}) {
		t.Errorf("after the window: fired %v", got)
	}
	// A nil Marker ignores cooldowns.
	if got := eval(t, s, ev("c1", "sip:alice@x"), nil); len(got) != 4 {
		t.Errorf("nil marker: fired %v", got)
	}
	// A failing Marker skips the rule and reports it; other rules fire.
	s2 := loadText(t, rules.Options{}, `rules:
  - {name: cool, on: message.received, do: [leave], cooldown: {window: 1h}}
  - {name: plain, on: message.received, do: [leave]}
`)
	bad := newMarker()
	bad.err = errors.New("store down")
	ms, err := s2.Eval(context.Background(), ev("c1", "sip:alice@x"), bad)
	if got := fired(ms); !slices.Equal(got, []string{"plain"}) {
		t.Errorf("marker error: fired %v", got)
	}
	var ee *rules.EvalError
	if !errors.As(err, &ee) || ee.Rule.Name != "cool" || !strings.Contains(err.Error(), "store down") || !strings.Contains(err.Error(), `rule "cool"`) {
		t.Errorf("marker error: err = %v", err)
	}
	if st := statsOf(s2, "cool"); st.Errors != 1 || st.Matches != 0 {
		t.Errorf("cool stats %+v", st)
	}
}

func TestEvalRuntimeErrorDoesNotStopOthers(t *testing.T) {
	s := loadText(t, rules.Options{}, `rules:
  - {name: first, on: message.received, do: [leave]}
  - {name: broken, on: message.received, do: [leave], when: 'state.ticket.id == 1'}
  - {name: last, on: message.received, do: [leave]}
`)
	for i := 0; i < 2; i++ {
		ms, err := s.Eval(context.Background(), &rules.Input{Event: msg("x")}, nil)
		if got := fired(ms); !slices.Equal(got, []string{"first", "last"}) {
			t.Errorf("fired %v", got)
		}
		var ee *rules.EvalError
		if !errors.As(err, &ee) || ee.Rule.Name != "broken" {
			t.Fatalf("err = %v, want an EvalError of broken", err)
		}
		if !strings.HasPrefix(ee.Error(), ee.Rule.File+`:3:5: rule "broken": `) {
			t.Errorf("EvalError text %q", ee.Error())
		}
	}
	if st := statsOf(s, "broken"); st.Errors != 2 || st.Matches != 0 {
		t.Errorf("broken stats %+v", st)
	}
	if st := statsOf(s, "first"); st.Matches != 2 || st.Errors != 0 {
		t.Errorf("first stats %+v", st)
	}
}

func TestObserveStats(t *testing.T) {
	s := loadText(t, rules.Options{}, `rules:
  - {name: a, on: message.received, do: [leave]}
  - {name: b, on: message.received, do: [leave]}
`)
	a := s.Rules()[0]
	s.Observe(a, 3*time.Millisecond, nil)
	s.Observe(a, 2*time.Millisecond, errors.New("send failed"))
	st := s.Stats()
	if len(st) != 2 || st[0] != (rules.RuleStats{Name: "a", Runs: 2, Errors: 1, RunTime: 5 * time.Millisecond}) || st[1] != (rules.RuleStats{Name: "b"}) {
		t.Errorf("Stats = %+v", st)
	}
}

func TestAcceptInvitation(t *testing.T) {
	inv := func(uri string) *rules.Input {
		return &rules.Input{Event: &event.Event{Kind: event.InvitationReceived, Participant: event.Participant{URI: uri}}}
	}
	s := loadText(t, rules.Options{}, `rules:
  - {name: a, on: typing, do: [leave]}
`)
	if ok, err := s.AcceptInvitation(inv("sip:eve@evil.example")); !ok || err != nil {
		t.Errorf("default: %v, %v", ok, err)
	}
	s = loadText(t, rules.Options{}, `invitations:
  accept: 'domain(participant.uri) == "contoso.com"'
rules:
  - {name: a, on: typing, do: [leave]}
`)
	if ok, err := s.AcceptInvitation(inv("sip:alice@Contoso.com")); !ok || err != nil {
		t.Errorf("contoso: %v, %v", ok, err)
	}
	if ok, err := s.AcceptInvitation(inv("sip:eve@evil.example")); ok || err != nil {
		t.Errorf("evil: %v, %v", ok, err)
	}
	s = loadText(t, rules.Options{}, `invitations:
  accept: 'state.x.y == 1'
rules:
  - {name: a, on: typing, do: [leave]}
`)
	if ok, err := s.AcceptInvitation(inv("sip:alice@contoso.com")); ok || err == nil || !strings.HasPrefix(err.Error(), "invitations.accept: ") {
		t.Errorf("failing policy: %v, %v", ok, err)
	}
}

func TestSubscriptionsVarsFiles(t *testing.T) {
	dir := t.TempDir()
	a := writeRules(t, dir, "a.yaml", `subscribe:
  - sip:alice@contoso.com
  - sip:bob@contoso.com
vars:
  x: 1
rules:
  - {name: a, on: typing, do: [leave]}
`)
	b := writeRules(t, dir, "b.yaml", `subscribe: sip:ALICE@contoso.com
vars:
  y: [1, 2]
`)
	s := loadOK(t, rules.Options{}, a, b)
	if got := s.Subscriptions(); !slices.Equal(got, []string{"sip:alice@contoso.com", "sip:bob@contoso.com"}) {
		t.Errorf("Subscriptions = %v", got)
	}
	if v := s.Vars(); len(v) != 2 || v["x"] != 1 {
		t.Errorf("Vars = %v", v)
	}
	if got := s.Files(); !slices.Equal(got, []string{a, b}) {
		t.Errorf("Files = %v", got)
	}
}

func TestVersion(t *testing.T) {
	dir := t.TempDir()
	src := "rules:\n  - {name: a, on: typing, do: [leave]}\n"
	p := writeRules(t, dir, "r.yaml", src)
	v1 := loadOK(t, rules.Options{}, p).Version()
	v2 := loadOK(t, rules.Options{}, p).Version()
	if v1 != v2 || !strings.HasPrefix(v1, "sha256:") || len(v1) != len("sha256:")+12 {
		t.Errorf("versions %q, %q", v1, v2)
	}
	writeRules(t, dir, "r.yaml", src+"  - {name: b, on: typing, do: [leave]}\n")
	if v3 := loadOK(t, rules.Options{}, p).Version(); v3 == v1 {
		t.Errorf("version unchanged after an edit: %s", v3)
	}
	// Same bytes in memory give the same version as on disk.
	s, err := rules.LoadBytes(rules.Options{}, p, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Version() != v1 {
		t.Errorf("LoadBytes version %s, Load %s", s.Version(), v1)
	}
}

func TestCloseCleansUpOnce(t *testing.T) {
	b := &strictBuilder{}
	s, err := rules.LoadBytes(rules.Options{Build: b.Build}, "r.yaml", []byte(`rules:
  - name: a
    on: typing
    do:
      - reply: {text: hi}
      - leave
  - name: b
    on: typing
    do: [log]
`))
	if err != nil {
		t.Fatal(err)
	}
	insts := b.all()
	if len(insts) != 3 {
		t.Fatalf("built %d instances", len(insts))
	}
	for _, in := range insts {
		if in.cleaned.Load() != 0 {
			t.Fatal("cleaned up before Close")
		}
	}
	for i := 0; i < 3; i++ {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, in := range insts {
		if n := in.cleaned.Load(); n != 1 {
			t.Errorf("%s cleaned up %d times", in.plugin, n)
		}
	}
}

// One Set evaluated from many goroutines; run under -race.
func TestEvalConcurrent(t *testing.T) {
	s := loadText(t, rules.Options{}, `rules:
  - {name: hello, on: message.received, do: [leave], when: 'iprefix(message.text, "hello") && state.n == 1'}
  - {name: other, on: message.received, do: [leave], when: 'participant.name == "Bob"'}
  - {name: cool, on: message.received, do: [leave], cooldown: {window: 1h, per: [participant]}}
`)
	m := newMarker()
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				e := msg("x")
				if g%2 == 0 {
					e.Message.Text = "Hello"
				} else {
					e.Participant.Name = "Bob"
				}
				e.Participant.URI = fmt.Sprintf("sip:u%d@x", g)
				ms, err := s.Eval(context.Background(), &rules.Input{Event: e, State: map[string]any{"n": 1}}, m)
				if err != nil {
					errs <- err.Error()
					return
				}
				got := fired(ms)
				want := []string{"hello"}
				if g%2 == 1 {
					want = []string{"other"}
				}
				if i == 0 {
					want = append(want, "cool")
				}
				if !slices.Equal(got, want) {
					errs <- fmt.Sprintf("goroutine %d, event %d: fired %v, want %v", g, i, got, want)
					return
				}
				s.Observe(ms[0].Rule, time.Microsecond, nil)
				_ = s.Stats()
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if st := statsOf(s, "hello"); st.Matches != 8*200 || st.Runs != 8*200 {
		t.Errorf("hello stats %+v", st)
	}
}

func TestEvalEventKindComparesWithAString(t *testing.T) {
	set := loadText(t, rules.Options{}, `
rules:
  - name: only-messages
    on: [message.received, typing]
    when: event.kind == "message.received" && event.participant.uri == participant.uri
    do: [log]
`)
	for kind, want := range map[event.Kind]int{event.MessageReceived: 1, event.Typing: 0} {
		ev := &event.Event{Kind: kind, Participant: event.Participant{URI: "sip:a@contoso.com"}}
		ms, err := set.Eval(context.Background(), &rules.Input{Event: ev}, nil)
		if err != nil || len(ms) != want {
			t.Errorf("%s: %d matches, err %v; want %d", kind, len(ms), err, want)
		}
	}
}

func TestVersionDependsOnContentAndBaseNameNotOnTheDirectory(t *testing.T) {
	src := []byte("rules:\n  - name: a\n    on: typing\n    do: [log]\n")
	a, err := rules.LoadBytes(rules.Options{}, "etc/ucwabot/rules.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	b, err := rules.LoadBytes(rules.Options{}, "/srv/other/place/rules.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	if a.Version() != b.Version() {
		t.Fatalf("versions %s and %s differ for the same file in two directories", a.Version(), b.Version())
	}
	c, err := rules.LoadBytes(rules.Options{}, "rules.yaml", append(src, "# changed\n"...))
	if err != nil {
		t.Fatal(err)
	}
	if c.Version() == a.Version() {
		t.Fatal("a changed file kept its version")
	}
}

func TestVarsAreConstantsOfTheFiles(t *testing.T) {
	set := loadText(t, rules.Options{}, `
vars:
  hours: ["09:00", "17:00"]
  team: {lead: sip:ann@contoso.com}
  word: vpn
rules:
  - name: r
    on: message.received
    when: between(vars.hours[0], vars.hours[1]) && available(vars.team.lead) && icontains(message.text, vars.word)
    do: [log]
`)
	at := func(clock string) *rules.Input {
		now, _ := time.Parse("15:04", clock)
		return &rules.Input{
			Event: &event.Event{Kind: event.MessageReceived, Message: event.Message{Text: "My VPN"}},
			Presence: func(uri string) (event.Presence, bool) {
				return event.Presence{URI: uri, Availability: "Online"}, uri == "sip:ann@contoso.com"
			},
			Now: time.Date(2026, 3, 4, now.Hour(), now.Minute(), 0, 0, set.Location()),
		}
	}
	for clock, want := range map[string]int{"10:00": 1, "18:00": 0} {
		ms, err := set.Eval(context.Background(), at(clock), nil)
		if err != nil || len(ms) != want {
			t.Errorf("at %s: %d matches, err %v; want %d", clock, len(ms), err, want)
		}
	}

	es, _ := textFail(t, rules.Options{}, `
vars:
  hours: ["09:00", "25:00"]
rules:
  - name: unknown
    on: typing
    when: vars.hourz[0] == "09:00"
    do: [log]
  - name: bad-clock
    on: typing
    when: between(vars.hours[0], vars.hours[1])
    do: [log]
`)
	hasErrLike(t, es, "", `rule "unknown": when: unknown var "hourz" (defined: hours)`)
	hasErrLike(t, es, "", `rule "bad-clock": when: "25:00" is not a time of day`)
}

// A policy that fails at event time declines (the answer to follow even
// with the error) and is counted, so an alert can be written on it.
func TestAcceptInvitation_failing_policy_declines_and_is_counted(t *testing.T) {
	s := loadText(t, rules.Options{}, `invitations:
  accept: 'state.profile.domain == "contoso.com"'
rules:
  - {name: a, on: typing, do: [leave]}
`)
	in := &rules.Input{Event: &event.Event{Kind: event.InvitationReceived, Participant: event.Participant{URI: "sip:alice@contoso.com"}}}
	if n := s.InvitationErrors(); n != 0 {
		t.Fatalf("InvitationErrors before = %d", n)
	}
	for range 2 {
		ok, err := s.AcceptInvitation(in)
		if ok || err == nil || !strings.Contains(err.Error(), "the invitation is declined") {
			t.Errorf("AcceptInvitation = %v, %v; want false and an error saying it declines", ok, err)
		}
	}
	// A policy that evaluates is not counted.
	in.State = map[string]any{"profile": map[string]any{"domain": "contoso.com"}}
	if ok, err := s.AcceptInvitation(in); !ok || err != nil {
		t.Errorf("with state: %v, %v", ok, err)
	}
	if n := s.InvitationErrors(); n != 2 {
		t.Errorf("InvitationErrors = %d, want 2", n)
	}
}
