package rulestest_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/plugins"
	_ "github.com/ucwabot/ucwabot/plugins/standard"
	"github.com/ucwabot/ucwabot/rules"
	"github.com/ucwabot/ucwabot/rules/rulestest"
)

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"unknown key", "cases:\n  - name: a\n    event: {kind: typing}\n    expekt: {}\n", `c.yaml:4: unknown key "expekt"`},
		{"no expectation", "cases:\n  - name: a\n    event: {kind: typing}\n", `c.yaml:2: case "a": expect: want rules, calls, invitation, replies, actions or state`},
		{"bad kind", "cases:\n  - name: a\n    event: {kind: typed}\n", `c.yaml:2: case "a": event.kind: unknown event kind "typed"`},
		{"no kind", "cases:\n  - name: a\n    event: {}\n", `c.yaml:2: case "a": event.kind: unknown event kind ""`},
		{"bad now", "cases:\n  - name: x\n    event: {kind: typing}\n    expect: {rules: []}\n  - name: a\n    event: {kind: typing}\n    now: tomorrow\n", `c.yaml:5: case "a": now: want RFC 3339`},
		{"bad invitation", "cases:\n  - name: a\n    event: {kind: invitation.received}\n    expect: {invitation: maybe}\n", `c.yaml:2: case "a": expect.invitation: want accept or decline, got "maybe"`},
		{"no name", "cases:\n  - event: {kind: typing}\n", `c.yaml:2: case 1: name is required`},
		{"no cases", "cases: []\n", `c.yaml: no cases`},
		{"a multi-line value in a YAML message", "0\n\n0", "c.yaml:1: cannot unmarshal !!str `0\\n0` into rulestest.File"},
		{"event and steps", "cases:\n  - name: a\n    event: {kind: typing}\n    steps:\n      - event: {kind: typing}\n        expect: {rules: []}\n", `c.yaml:2: case "a": give either event and expect, or steps`},
		{"step without expect", "cases:\n  - name: a\n    steps:\n      - event: {kind: typing}\n        expect: {rules: []}\n      - event: {kind: typing}\n", `c.yaml:6: case "a": steps[1].expect: want rules, calls`},
		{"step bad kind", "cases:\n  - name: a\n    steps:\n      - event: {kind: typed}\n        expect: {rules: []}\n", `c.yaml:4: case "a": steps[0]: event.kind: unknown event kind "typed"`},
		{"duplicate key", "cases:\n  - name: a\n    event: {kind: typing}\n    expect: {rules: []}\n    expect: {calls: []}\n", `c.yaml:5: mapping key "expect" already defined at line 4`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := rulestest.Parse("c.yaml", []byte(c.src))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

const rulesSrc = `timezone: Europe/Berlin
subscribe: [sip:bob@contoso.com]
invitations:
  accept: 'domain(participant.uri) == "contoso.com"'
rules:
  - name: greet
    on: participant.joined
    when: '!participant.local'
    do:
      - reply: {text: hi}
      - set: {greeted: true}
    cooldown: {window: 24h, per: [participant]}
  - name: status
    on: message.received
    when: 'message.text matches "(?i)^status" && between("09:00", "17:00")'
    do: [reply]
    stop: true
  - name: handoff
    on: message.received
    when: 'available("sip:bob@contoso.com") && (state.step ?? 0) == 1'
    do: [forward]
`

func TestRunFile(t *testing.T) {
	dir := t.TempDir()
	rp := write(t, dir, "rules.yaml", rulesSrc)
	cp := write(t, dir, "rules.cases.yaml", `cases:
  - name: greets alice
    event:
      kind: participant.joined
      participant: {uri: sip:alice@contoso.com, name: Alice}
    now: 2026-03-02T10:00:00+01:00
    expect: {rules: [greet], calls: [reply, set]}
  - name: second greeting suppressed
    event:
      kind: participant.joined
      participant: {uri: sip:alice@contoso.com}
    now: 2026-03-02T20:00:00+01:00
    expect: {rules: []}
  - name: greets again the next day
    event:
      kind: participant.joined
      participant: {uri: sip:alice@contoso.com}
    now: 2026-03-03T10:00:01+01:00
    expect: {rules: [greet]}
  - name: status in hours stops
    event: {kind: message.received, message: {text: "Status?"}}
    state: {step: 1}
    presence:
      sip:bob@contoso.com: Online
    now: 2026-03-02T10:00:00+01:00
    expect: {rules: [status], calls: [reply]}
  - name: handoff after hours
    event: {kind: message.received, message: {text: "Status?"}}
    state: {step: 1}
    presence:
      sip:bob@contoso.com: Online
    now: 2026-03-02T18:00:00+01:00
    expect: {rules: [handoff], calls: [forward]}
  - name: invitation accepted
    event: {kind: invitation.received, participant: {uri: sip:carol@contoso.com}}
    expect: {invitation: accept}
  - name: invitation declined
    event: {kind: invitation.received, participant: {uri: sip:eve@evil.example}}
    expect: {invitation: decline}
`)
	rep, err := rulestest.RunFile(rules.Options{}, []string{rp}, cp)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total() != 7 || rep.Failed() != 0 {
		t.Fatalf("report:\n%s", rep)
	}
	if !strings.HasSuffix(rep.String(), "7 cases, 7 passed, 0 failed\n") {
		t.Errorf("report:\n%s", rep)
	}
}

func TestRunFailures(t *testing.T) {
	dir := t.TempDir()
	rp := write(t, dir, "rules.yaml", rulesSrc)
	cp := write(t, dir, "bad.cases.yaml", `cases:
  - name: passes
    event: {kind: typing}
    expect: {rules: []}
  - name: wrong rules
    event:
      kind: participant.joined
      participant: {uri: sip:alice@contoso.com}
    expect: {rules: [status], calls: [leave]}
  - name: wrong invitation
    event: {kind: invitation.received, participant: {uri: sip:eve@evil.example}}
    expect: {invitation: accept}
`)
	rep, err := rulestest.RunFile(rules.Options{}, []string{rp}, cp)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total() != 3 || rep.Failed() != 2 || !rep.Results[0].Passed() || rep.Results[1].Passed() {
		t.Fatalf("report:\n%s", rep)
	}
	out := rep.String()
	for _, want := range []string{
		"ok   passes\n",
		"FAIL wrong rules (" + cp + ":5)\n     rules: got [greet], want [status]\n     calls: got [reply, set], want [leave]\n",
		"FAIL wrong invitation (" + cp + ":10)\n     invitation: got decline, want accept\n",
		"3 cases, 1 passed, 2 failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// Rules that do not load are an error.
	bad := write(t, dir, "broken.yaml", "rules: 3\n")
	if _, err := rulestest.RunFile(rules.Options{}, []string{bad}, cp); err == nil {
		t.Error("RunFile with broken rules succeeded")
	}
}

// The cases of the rules package's test data directory pass.
func TestRunTestdataDir(t *testing.T) {
	rep, err := rulestest.RunFile(rules.Options{}, []string{"../testdata/dir"}, "../testdata/dir/skip.cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed() != 0 || rep.Total() != 1 {
		t.Errorf("report:\n%s", rep)
	}
}

const conversationRules = `invitations:
  accept: 'domain(participant.uri) == "contoso.com"'
rules:
  - name: greet
    on: participant.joined
    when: '!participant.local'
    do:
      - reply: {text: 'Hello {{default "there" .Participant.Name}}!'}
  - name: topic
    on: message.received
    when: '(state.topic ?? "") == ""'
    priority: 10
    do:
      - set: {templates: {topic: "{{.Message.Text}}"}, fields: {count: 1}}
  - name: answer
    on: message.received
    when: '(state.topic ?? "") != ""'
    do:
      - reply: {text: "About {{.State.topic}}: we are on it.", typing: true}
  - name: bye
    on: message.received
    when: 'message.text matches "(?i)thanks"'
    priority: 20
    stop: true
    do:
      - reply: {text: "You're welcome."}
      - unset: {fields: [topic]}
      - leave
`

// A case of several events runs the handlers of the rules that fire
// against a recording responder, with the conversation's state carried
// from one event to the next, and asserts the replies, the actions and
// the state after each event.
func TestRunConversation_asserts_replies_actions_and_state_across_events(t *testing.T) {
	dir := t.TempDir()
	rp := write(t, dir, "rules.yaml", conversationRules)
	cp := write(t, dir, "conv.cases.yaml", `cases:
  - name: a whole conversation
    steps:
      - event: {kind: invitation.received, participant: {uri: sip:alice@contoso.com}}
        expect: {invitation: accept, replies: []}
      - event: {kind: participant.joined, participant: {uri: sip:alice@contoso.com, name: Alice}}
        expect: {replies: ["Hello Alice!"]}
      - event: {kind: message.received, participant: {uri: sip:alice@contoso.com}, message: {text: my VPN is down}}
        expect:
          rules: [topic]
          replies: []
          state: {topic: my VPN is down, count: 1}
      - event: {kind: message.received, message: {text: "still down?"}}
        expect:
          actions: ["typing", "say: About my VPN is down: we are on it."]
          state: {topic: my VPN is down}
      - event: {kind: message.received, message: {text: thanks}}
        expect:
          actions: ["say: You're welcome.", "leave"]
          state: {topic: null, count: 1}
`)
	rep, err := rulestest.RunFile(rules.Options{Build: plugins.Default.Build}, []string{rp}, cp)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total() != 1 || rep.Failed() != 0 {
		t.Fatalf("report:\n%s", rep)
	}
}

// A reply, action or state that differs fails the case, naming the step
// and showing both texts.
func TestRunConversation_failures_name_the_step_and_the_difference(t *testing.T) {
	dir := t.TempDir()
	rp := write(t, dir, "rules.yaml", conversationRules)
	cp := write(t, dir, "conv.cases.yaml", `cases:
  - name: wrong expectations
    state: {topic: printers}
    steps:
      - event: {kind: participant.joined, participant: {uri: sip:alice@contoso.com, name: Alice}}
        expect: {replies: ["Hello, Alice!"]}
      - event: {kind: message.received, message: {text: thanks}}
        expect:
          actions: ["say: You're welcome."]
          state: {topic: printers, extra: 3}
  - name: declined by policy
    event: {kind: invitation.received, participant: {uri: sip:eve@evil.example}}
    expect: {invitation: accept, replies: []}
`)
	rep, err := rulestest.RunFile(rules.Options{Build: plugins.Default.Build}, []string{rp}, cp)
	if err != nil {
		t.Fatal(err)
	}
	out := rep.String()
	for _, want := range []string{
		"FAIL wrong expectations (" + cp + ":2)\n",
		"     step 1 (participant.joined, line 5): replies[0]:\n       got:  \"Hello Alice!\"\n       want: \"Hello, Alice!\"\n",
		"     step 2 (message.received, line 7): actions: got 2 actions, want 1:\n       got:  [\"say: You're welcome.\", \"leave\"]\n       want: [\"say: You're welcome.\"]\n",
		"     step 2 (message.received, line 7): state.extra: unset, want 3\n",
		"     step 2 (message.received, line 7): state.topic: unset, want \"printers\"\n",
		"FAIL declined by policy (" + cp + ":11)\n     invitation: got decline, want accept\n",
		"2 cases, 0 passed, 2 failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// Without the plugins there are no handlers to run.
	rep, err = rulestest.RunFile(rules.Options{}, []string{rp}, cp)
	if err != nil {
		t.Fatal(err)
	}
	if out := rep.String(); !strings.Contains(out, `rule "greet" do[0] reply: no handler was built`) {
		t.Errorf("report without plugins:\n%s", out)
	}
}

func TestParse_steps_shared_by_an_alias_or_a_merge_key_have_their_lines(t *testing.T) {
	for name, src := range map[string]string{
		"alias": "cases:\n  - name: a\n    steps: &s\n      - {event: {kind: typing}, expect: {rules: []}}\n  - name: b\n    steps: *s\n",
		"merge": "cases:\n  - &a {name: a, steps: [{event: {kind: typing}, expect: {rules: []}}]}\n  - {<<: *a, name: b}\n",
	} {
		t.Run(name, func(t *testing.T) {
			f, err := rulestest.Parse("c.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range f.Cases {
				for i, s := range c.Steps {
					if s.Line < 1 {
						t.Errorf("case %q: step %d has line %d", c.Name, i+1, s.Line)
					}
				}
			}
		})
	}
}

// Rule-test cases reach the features that act on their own: a rule that
// listens to the notify API's message.requested, a webhook that answers
// into the state (save_as) for the next step, and on_error steps that run
// when a step fails.
func TestRun_cases_of_notify_requests_webhook_answers_and_on_error(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id": "INC-7"}`))
	}))
	defer hook.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close() // nothing listens there any more
	dir := t.TempDir()
	rp := write(t, dir, "rules.yaml", `rules:
  - name: alert-log
    on: message.requested
    do:
      - set: {templates: {last_alert: "{{.Message.Text}}"}}
  - name: ticket
    on: message.received
    when: 'message.text == "ticket"'
    do:
      - webhook: {url: "`+hook.URL+`", save_as: ticket, retries: -1}
      - reply: {text: "ticket {{.State.ticket.id}} opened"}
  - name: broken
    on: message.received
    when: 'message.text == "broken"'
    do:
      - webhook: {url: "`+closedURL+`", retries: -1, timeout: 2s}
      - reply: {text: "not reached"}
    on_error:
      - reply: {text: "no ticket this time"}
`)
	cp := write(t, dir, "features.cases.yaml", `cases:
  - name: a rule sees what the notify API asked for
    event: {kind: message.requested, conversation: {id: c1}, message: {text: db1 is down}}
    expect:
      rules: [alert-log]
      state: {last_alert: db1 is down}
  - name: the webhook's answer is in the reply
    event: {kind: message.received, message: {text: ticket}}
    expect:
      replies: ["ticket INC-7 opened"]
      state: {ticket: {id: INC-7}}
  - name: on_error replaces the rest of do
    event: {kind: message.received, message: {text: broken}}
    expect:
      replies: ["no ticket this time"]
`)
	rep, err := rulestest.RunFile(rules.Options{Build: plugins.Default.Build}, []string{rp}, cp)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total() != 3 || rep.Failed() != 0 {
		t.Fatalf("report:\n%s", rep)
	}
}
