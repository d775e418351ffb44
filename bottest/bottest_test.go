package bottest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/bot"
	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/bottest"
	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/plugins"
	_ "github.com/ucwabot/ucwabot/plugins/builtin"
)

const (
	alice = "sip:alice@contoso.com"
	bob   = "sip:bob@contoso.com"
)

func TestBot_replies_and_keeps_the_transcript(t *testing.T) {
	b := bottest.New(t, bottest.Rules(`
rules:
  - name: echo
    on: [message.received]
    do:
      - reply: {text: "{{.Participant.Name}} said {{.Message.Text}}"}
`))
	c := b.Invite(alice, "hello")
	c.ExpectReply("Alice said hello")
	c.Say("{{.Account}}")
	c.ExpectReply("Alice said {{.Account}}")
	tr := c.Transcript()
	want := []string{alice + ": hello", bottest.BotURI + ": Alice said hello", alice + ": {{.Account}}", bottest.BotURI + ": Alice said {{.Account}}"}
	if !slices.Equal(tr, want) {
		t.Fatalf("transcript = %q, want %q", tr, want)
	}
	if r := c.Replies(); len(r) != 2 {
		t.Fatalf("replies = %q", r)
	}
}

func TestBot_join_leave_and_state(t *testing.T) {
	b := bottest.New(t, bottest.Person(bob, "Bob Builder"), bottest.Rules(`
rules:
  - name: welcome
    on: [participant.joined]
    when: not participant.local
    do:
      - reply: {text: "welcome {{.Participant.Name}}"}
      - set: {fields: {joined: true}}
  - name: goodbye
    on: [participant.left]
    do:
      - unset: {fields: [joined]}
      - set: {templates: {left: "{{.Participant.URI}}"}}
`))
	c := b.Invite(alice, "")
	c.Join(bob)
	c.ExpectReply("welcome Bob Builder")
	c.ExpectState("joined", true)
	c.Leave(bob)
	c.ExpectState("left", bob)
	c.ExpectState("joined", nil)
	if st := c.State(); st["left"] != bob {
		t.Fatalf("state = %v", st)
	}
}

func TestBot_ExpectNoReply_waits_for_the_messages_to_be_handled(t *testing.T) {
	b := bottest.New(t, bottest.Rules(`
rules:
  - name: only questions
    on: [message.received]
    when: message.text endsWith "?"
    do:
      - reply: {text: "good question"}
`))
	c := b.Invite(alice, "hi")
	c.ExpectNoReply()
	c.Say("why?")
	c.ExpectReply("good question")
	c.Say("ok")
	c.ExpectNoReply()
}

func TestBot_survives_a_panicking_and_a_slow_plugin(t *testing.T) {
	reg := plugins.NewRegistry()
	type none struct{}
	reg.Register("panic", plugins.Define(func(none) (handlers.Handler, error) {
		return handlers.HandlerFunc(func(context.Context, *handlers.Request) error { panic("plugin bug") }), nil
	}))
	reg.Register("slow", plugins.Define(func(none) (handlers.Handler, error) {
		return handlers.HandlerFunc(func(ctx context.Context, _ *handlers.Request) error {
			<-ctx.Done()
			return ctx.Err()
		}), nil
	}))
	reg.Register("echo", plugins.Define(func(none) (handlers.Handler, error) {
		return handlers.HandlerFunc(func(ctx context.Context, req *handlers.Request) error {
			return req.Reply.Say(ctx, "echo "+req.Event.Message.Text)
		}), nil
	}))
	b := bottest.New(t, bottest.Registry(reg), bottest.Configure(func(c *bot.Config) { c.HandlerTimeout = 200 * time.Millisecond }), bottest.Rules(`
rules:
  - name: crash
    on: [message.received]
    when: message.text == "crash"
    do: [{panic: {}}]
  - name: hang
    on: [message.received]
    when: message.text == "hang"
    do: [{slow: {}}]
  - name: echo
    on: [message.received]
    do: [{echo: {}}]
`))
	c := b.Invite(alice, "crash")
	c.ExpectReply("echo crash")
	c.Say("hang")
	c.ExpectReply("echo hang")
	c.Say("still there?")
	c.ExpectReply("echo still there?")
	errs := fmt.Sprint(b.Errors())
	if !strings.Contains(errs, "plugin bug") || !errors.Is(errors.Join(b.Errors()...), context.DeadlineExceeded) {
		t.Fatalf("errors = %s; want the panic and the timeout reported", errs)
	}
}

func TestLoadRules_reports_a_bad_plugin_parameter_at_its_line(t *testing.T) {
	_, err := bottest.LoadRules(plugins.Default, `
rules:
  - name: greet
    on: [message.received]
    do:
      - reply:
          txt: hello
`)
	if err == nil || !strings.Contains(err.Error(), "rules.yaml:") || !strings.Contains(err.Error(), "txt") {
		t.Fatalf("err = %v, want rules.yaml:line and the unknown key", err)
	}
	if !strings.Contains(err.Error(), ":7") && !strings.Contains(err.Error(), "line 7") {
		t.Errorf("err = %v does not name line 7", err)
	}
}

func BenchmarkBot_message_round_trip(b *testing.B) {
	bt := bottest.New(b, bottest.Rules(`
rules:
  - name: echo
    on: [message.received]
    do:
      - reply: {text: "{{.Message.Text}}"}
`))
	c := bt.Invite(alice, "warm up")
	c.ExpectReply("warm up")
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		text := fmt.Sprint("m", i)
		c.Say(text)
		c.ExpectReply(text)
	}
}

func TestBot_event_builders_and_Fired(t *testing.T) {
	b := bottest.New(t, bottest.Rules(`
invitations:
  accept: 'domain(participant.uri) == "contoso.com"'
rules:
  - name: invited
    on: invitation.received
    when: icontains(message.text, "help")
    do: [{accept: {}}]
  - name: joined
    on: participant.joined
    when: not participant.local && participant.name == "Bob"
    do: [{reply: {text: hi}}]
  - name: left
    on: participant.left
    do: [{unset: {fields: [x]}}]
  - name: said
    on: message.received
    when: state.topic == message.text
    do: [{reply: {text: again}}]
`))
	for _, tc := range []struct {
		ev    *event.Event
		state map[string]any
		want  []string
	}{
		{bottest.InvitationEvent(alice, "I need help"), nil, []string{"invited"}},
		{bottest.InvitationEvent(alice, "hello"), nil, nil},
		{bottest.JoinEvent(bob), nil, []string{"joined"}},
		{bottest.JoinEvent(alice), nil, nil},
		{bottest.JoinEvent(bottest.BotURI), nil, nil},
		{bottest.LeaveEvent(bob), nil, []string{"left"}},
		{bottest.MessageEvent(alice, "printer"), map[string]any{"topic": "printer"}, []string{"said"}},
		{bottest.MessageEvent(alice, "printer"), map[string]any{"topic": "vpn"}, nil},
	} {
		if got := b.Fired(tc.ev, tc.state); !slices.Equal(got, tc.want) {
			t.Errorf("%s %s %q: fired %q, want %q", tc.ev.Kind, tc.ev.Participant.URI, tc.ev.Message.Text, got, tc.want)
		}
	}
	ev := bottest.JoinEvent(bottest.BotURI)
	if !ev.Participant.Local || ev.Conversation.ID != bottest.ConvID || ev.Account != bottest.BotURI {
		t.Fatalf("event = %+v", ev)
	}
	if a, c := bottest.MessageEvent(alice, "x"), bottest.MessageEvent(alice, "x"); a.ID == c.ID {
		t.Fatalf("two events share the id %s", a.ID)
	}
}

func TestBot_conversation_status_participants_and_errors(t *testing.T) {
	b := bottest.New(t, bottest.Rules(`
invitations:
  accept: 'participant.uri != "sip:mallory@contoso.com"'
rules:
  - name: bad template
    on: message.received
    when: message.text == "boom"
    do: [{reply: {text: "{{index .State.missing 3}}"}}]
  - name: fine
    on: message.received
    when: message.text != "boom"
    do: [{reply: {text: "fine"}}]
`))
	refused := b.Invite("sip:mallory@contoso.com", "hi")
	refused.ExpectStatus("Disconnected")
	if p := refused.Participants(); len(p) != 0 {
		t.Fatalf("participants of a declined conversation = %q", p)
	}
	c := b.Invite(alice, "hi")
	c.ExpectStatus("Connected")
	c.ExpectReply("fine")
	c.Join(bob)
	c.ExpectParticipant(bob)
	c.Wait()
	b.ExpectNoErrors()
	c.SayAs(bob, "boom")
	b.ExpectError("index")
	c.ExpectNoReply()
	c.ExpectTranscript(alice+": hi", bottest.BotURI+": fine", bob+": boom")
	c.HangUp()
	c.ExpectEnded()
}

func TestBot_ExpectState_compares_structured_values(t *testing.T) {
	b := bottest.New(t, bottest.Rules(`
rules:
  - name: store
    on: message.received
    do:
      - set: {fields: {list: [1, two], obj: {n: 2, ok: true}}}
`))
	c := b.Invite(alice, "x")
	c.ExpectState("list", []any{1, "two"})
	c.ExpectState("obj", map[string]any{"n": 2, "ok": true})
}

func TestBot_forwarded_conversation_is_found(t *testing.T) {
	b := bottest.New(t, bottest.Person(bob, "Bob"), bottest.Rules(`
rules:
  - name: tell bob
    on: message.received
    do:
      - forward: {to: "`+bob+`", text: "from {{.Participant.Name}}: {{.Message.Text}}"}
`))
	c := b.Invite(alice, "hello bob")
	out := b.ExpectConversationWith(bob, c)
	out.ExpectReply("from Alice: hello bob")
	if got := len(b.Conversations()); got != 2 {
		t.Fatalf("conversations = %d, want 2", got)
	}
	if s := b.Sent(); !slices.Contains(s, "from Alice: hello bob") {
		t.Fatalf("sent = %q", s)
	}
}
