package builtin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/ucwabot/ucwabot/bottest"
	"github.com/ucwabot/ucwabot/handlers"
	_ "github.com/ucwabot/ucwabot/plugins/builtin"
)

const (
	alice   = "sip:alice@contoso.com"
	bob     = "sip:bob@contoso.com"
	helpers = "sip:helpdesk@contoso.com"
)

func TestBot_reply_renders_the_template_but_never_the_users_text(t *testing.T) {
	b := bottest.New(t, bottest.Person(alice, "Alice Liddell"), bottest.Rules(`
rules:
  - name: echo
    on: message.received
    do:
      - reply: {text: "{{.Participant.Name}}: {{.Message.Text}}"}
`))
	c := b.Invite(alice, "hi")
	c.ExpectReply("Alice Liddell: hi")
	c.Say("{{.State}}")
	c.ExpectReply("Alice Liddell: {{.State}}")
	c.Say(`{{printf "%s" "x"}}`)
	c.ExpectReply(`Alice Liddell: {{printf "%s" "x"}}`)
	c.ExpectTranscript(
		alice+": hi", bottest.BotURI+": Alice Liddell: hi",
		alice+": {{.State}}", bottest.BotURI+": Alice Liddell: {{.State}}",
		alice+`: {{printf "%s" "x"}}`, bottest.BotURI+`: Alice Liddell: {{printf "%s" "x"}}`,
	)
	c.Wait()
	b.ExpectNoErrors()
}

func TestBot_reply_html_escapes_the_users_text(t *testing.T) {
	b := bottest.New(t, bottest.Rules(`
rules:
  - name: echo
    on: message.received
    do:
      - reply: {html: "<b>{{.Message.Text}}</b>"}
`))
	c := b.Invite(alice, "<script>x</script>")
	c.ExpectReply("<b>&lt;script&gt;x&lt;/script&gt;</b>")
}

func TestBot_set_and_unset_change_the_state_the_next_rule_sees(t *testing.T) {
	b := bottest.New(t, bottest.Rules(`
rules:
  - name: ask
    on: message.received
    when: (state.step ?? "") == "" && message.text == "start"
    stop: true
    do:
      - set: {fields: {step: "name", count: 1}}
      - reply: {text: "What is your name?"}
  - name: name
    on: message.received
    when: (state.step ?? "") == "name"
    stop: true
    do:
      - set: {fields: {step: "done"}, templates: {name: "{{.Message.Text}}"}}
      - reply: {text: "Thanks {{.Message.Text}}, step was {{.State.step}}"}
  - name: reset
    on: message.received
    when: (state.step ?? "") == "done" && message.text == "reset"
    stop: true
    do:
      - unset: {fields: [step, name]}
      - reply: {text: "reset"}
  - name: status
    on: message.received
    when: message.text == "status"
    do:
      - reply: {text: "step={{default \"none\" .State.step}} name={{default \"none\" .State.name}}"}
`))
	c := b.Invite(alice, "start")
	c.ExpectReply("What is your name?")
	c.ExpectState("step", "name")
	c.ExpectState("count", 1)
	c.Say("Alice")
	c.ExpectReply("Thanks Alice, step was done") // a later action sees the earlier set
	c.ExpectState("step", "done")
	c.ExpectState("name", "Alice")
	c.Say("status")
	c.ExpectReply("step=done name=Alice")
	c.Say("reset")
	c.ExpectReply("reset")
	c.ExpectState("step", nil)
	c.ExpectState("name", nil)
	c.Say("status")
	c.ExpectReply("step=none name=none")
	if st := c.State(); len(st) != 1 || st["count"] != float64(1) {
		t.Fatalf("state = %v, want only count", st)
	}
}

func TestBot_unset_all_clears_the_state(t *testing.T) {
	b := bottest.New(t, bottest.Rules(`
rules:
  - name: remember
    on: message.received
    when: message.text != "forget"
    do:
      - set: {templates: {last: "{{.Message.Text}}"}, fields: {seen: true}}
  - name: forget
    on: message.received
    when: message.text == "forget"
    do:
      - unset: {all: true}
      - reply: {text: "forgotten"}
`))
	c := b.Invite(alice, "one")
	c.ExpectState("last", "one")
	c.ExpectState("seen", true)
	c.Say("forget")
	c.ExpectReply("forgotten")
	if st := c.State(); len(st) != 0 {
		t.Fatalf("state = %v, want empty", st)
	}
}

func TestBot_accept_greets_and_decline_refuses(t *testing.T) {
	b := bottest.New(t, bottest.Rules(`
rules:
  - name: refuse spam
    on: invitation.received
    when: icontains(message.text, "buy now")
    stop: true
    do:
      - decline: {}
  - name: welcome
    on: invitation.received
    do:
      - accept: {greeting: "Hi {{.Participant.Name}}, how can I help?"}
  - name: echo
    on: message.received
    do:
      - reply: {text: "you said {{.Message.Text}}"}
`))
	spam := b.Invite(bob, "BUY NOW cheap watches")
	spam.ExpectStatus("Disconnected")
	if r := spam.Replies(); len(r) != 0 {
		t.Fatalf("the bot answered a declined invitation: %q", r)
	}

	c := b.Invite(alice, "hello")
	c.ExpectStatus("Connected")
	c.ExpectReply("Hi Alice, how can I help?")
	c.ExpectReply("you said hello")
	if r := spam.Replies(); len(r) != 0 {
		t.Fatalf("declined conversation got %q", r)
	}
	c.Wait()
	b.ExpectNoErrors()
}

func TestBot_invitation_policy_declines_without_a_rule(t *testing.T) {
	b := bottest.New(t, bottest.Rules(`
invitations:
  accept: 'domain(participant.uri) == "contoso.com"'
rules:
  - name: echo
    on: message.received
    do:
      - reply: {text: "ok"}
`))
	c := b.Invite("sip:mallory@fabrikam.com", "hi")
	c.ExpectStatus("Disconnected")
	ok := b.Invite(alice, "hi")
	ok.ExpectReply("ok")
	if r := c.Replies(); len(r) != 0 {
		t.Fatalf("replies = %q", r)
	}
}

func TestBot_forward_opens_a_conversation_with_another_person(t *testing.T) {
	b := bottest.New(t, bottest.Rules(`
rules:
  - name: escalate
    on: message.received
    when: iprefix(message.text, "help")
    do:
      - forward: {to: "`+helpers+`", subject: "Escalation", text: "{{.Participant.Name}} asks: {{.Message.Text}}"}
      - reply: {text: "forwarded"}
  - name: relay
    on: message.received
    when: message.text == "relay"
    do:
      - forward: {}
`))
	// The helpdesk is a person of the simulator too.
	b.SetPresence(helpers, "Online")
	c := b.Invite(alice, "help {{.Account}} please")
	c.ExpectReply("forwarded")
	out := b.ExpectConversationWith(helpers, c)
	out.ExpectReply("Alice asks: help {{.Account}} please")
	if r := c.Replies(); len(r) != 1 {
		t.Fatalf("replies in the first conversation = %q", r)
	}
	c.Say("relay")
	c.ExpectReplyContaining("relay")
	c.Wait()
	b.ExpectNoErrors()
}

func TestBot_webhook_posts_signed_JSON_and_retries_on_500(t *testing.T) {
	const secret = "webhook-test-secret-1234"
	t.Setenv("BOTTEST_HOOK_SECRET", secret)
	type hit struct {
		sig, ctype, ts string
		body           []byte
	}
	var (
		mu   sync.Mutex
		hits []hit
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		hits = append(hits, hit{sig: r.Header.Get(handlers.SignatureHeader), ctype: r.Header.Get("Content-Type"), ts: r.Header.Get(handlers.TimestampHeader), body: body})
		n := len(hits)
		mu.Unlock()
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server at %s, want 127.0.0.1", srv.URL)
	}
	b := bottest.New(t, bottest.Rules(`
rules:
  - name: notify
    on: message.received
    do:
      - webhook: {url: "`+srv.URL+`/hook", secret_env: BOTTEST_HOOK_SECRET, retries: 3, backoff: 10ms, timeout: 2s}
      - reply: {text: "notified"}
`))
	c := b.Invite(alice, "disk full")
	c.ExpectReply("notified")
	c.Wait()
	b.ExpectNoErrors()
	mu.Lock()
	defer mu.Unlock()
	if len(hits) != 2 {
		t.Fatalf("webhook got %d requests, want 2 (a 500, then the retry)", len(hits))
	}
	for i, h := range hits {
		if h.sig != handlers.SignTimestamped([]byte(secret), h.ts, h.body) {
			t.Errorf("request %d: signature %q does not match the body", i, h.sig)
		}
		if !strings.HasPrefix(h.ctype, "application/json") {
			t.Errorf("request %d: content type %q", i, h.ctype)
		}
		if strings.Contains(string(h.body), secret) {
			t.Errorf("request %d: the body holds the secret", i)
		}
	}
	if string(hits[0].body) != string(hits[1].body) {
		t.Errorf("the retry sent another body:\n%s\n%s", hits[0].body, hits[1].body)
	}
	var p handlers.WebhookPayload
	if err := json.Unmarshal(hits[1].body, &p); err != nil {
		t.Fatalf("body %s: %v", hits[1].body, err)
	}
	if p.Rule != "notify" || p.Event == nil || p.Event.Message.Text != "disk full" || p.Event.Participant.URI != alice {
		t.Fatalf("payload = %s", hits[1].body)
	}
}

func TestBot_webhook_gives_up_and_the_bot_goes_on(t *testing.T) {
	var (
		mu sync.Mutex
		n  int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	b := bottest.New(t, bottest.Rules(`
rules:
  - name: notify
    on: message.received
    do:
      - webhook: {url: "`+srv.URL+`", retries: 2, backoff: 5ms}
      - reply: {text: "still here"}
`))
	c := b.Invite(alice, "x")
	c.ExpectReply("still here")
	b.ExpectError("502")
	if errs := b.Errors(); len(errs) != 1 {
		t.Fatalf("errors = %v, want the webhook's 502 only", errs)
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 3 {
		t.Fatalf("webhook got %d requests, want 3 (1 + 2 retries)", n)
	}
}

func TestBot_log_writes_the_rendered_line(t *testing.T) {
	l, hook := logtest.NewNullLogger()
	l.SetLevel(logrus.DebugLevel)
	b := bottest.New(t, bottest.Logger(l), bottest.Rules(`
rules:
  - name: audit
    on: message.received
    do:
      - log: {message: "{{.Participant.URI}} wrote {{.Message.Text}}", level: warn}
      - reply: {text: "logged"}
`))
	c := b.Invite(alice, "{{.Rule}}")
	c.ExpectReply("logged")
	var found bool
	for _, e := range hook.AllEntries() {
		if e.Message == alice+" wrote {{.Rule}}" {
			found = true
			if e.Level != logrus.WarnLevel {
				t.Errorf("level = %s, want warning", e.Level)
			}
		}
	}
	if !found {
		var lines []string
		for _, e := range hook.AllEntries() {
			lines = append(lines, e.Message)
		}
		t.Fatalf("log line not found in %q", lines)
	}
}

func TestBot_leave_says_goodbye_and_leaves(t *testing.T) {
	b := bottest.New(t, bottest.Rules(`
rules:
  - name: bye
    on: message.received
    when: iequals(message.text, "bye")
    do:
      - leave: {message: "Bye {{.Participant.Name}}!"}
  - name: echo
    on: message.received
    when: not iequals(message.text, "bye")
    do:
      - reply: {text: "echo {{.Message.Text}}"}
`))
	c := b.Invite(alice, "hi")
	c.ExpectReply("echo hi")
	c.Say("BYE")
	c.ExpectReply("Bye Alice!")
	c.ExpectStatus("Disconnected")
	c.ExpectTranscript(alice+": hi", bottest.BotURI+": echo hi", alice+": BYE", bottest.BotURI+": Bye Alice!")
	c.Wait()
	b.ExpectNoErrors()
}

func TestBot_bad_builtin_parameters_fail_the_load_at_their_line(t *testing.T) {
	for _, tc := range []struct{ name, do, want string }{
		{"reply template", `reply: {text: "{{.Participant.Name"}`, "text"},
		{"reply both", `reply: {text: a, html: b}`, "html"},
		{"set nothing", `set: {}`, "set"},
		{"unset both", `unset: {fields: [a], all: true}`, "all"},
		{"forward uri", `forward: {to: "alice"}`, "to"},
		{"webhook url", `webhook: {url: "ftp://example.com"}`, "url"},
		{"log level", `log: {level: loud}`, "level"},
		{"leave unknown key", `leave: {msg: bye}`, "msg"},
		{"accept template", `accept: {greeting: "{{"}`, "greeting"},
		{"decline unknown key", `decline: {why: spam}`, "why"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bottest.LoadRules(nil, `
rules:
  - name: r
    on: message.received
    do:
      - `+tc.do+`
`)
			if err == nil {
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), "rules.yaml:6:") || !strings.Contains(err.Error(), `rule "r"`) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want rules.yaml:6, the rule and %q", err, tc.want)
			}
		})
	}
}
