package rules

import (
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/ucwabot/ucwabot/bot/event"
)

// The boxed reads change only how string fields reach the VM: every
// expression gives the same result with and without boxedPatch.
func TestBoxedReadsAgreeWithTypedReads(t *testing.T) {
	exprs := []string{
		`message.text == "Hi there"`,
		`message.text != ""`,
		`message.text + "!" == "Hi there!"`,
		`len(message.text) > 3`,
		`message.text in ["Hi there", "yo"]`,
		`lower(message.text) == "hi there"`,
		`upper(participant.name) == "ALICE"`,
		`trim(message.text) == message.text`,
		`message.text startsWith "Hi"`,
		`message.text endsWith "there"`,
		`message.text contains "the"`,
		`message.text matches "(?i)^hi\\b"`,
		`participant.uri matches "@contoso\\.com$"`,
		`message.text < "Z" && participant.uri > "a"`,
		`split(participant.uri, "@")[1] == "contoso.com"`,
		`event.kind == "message.received" && event.participant.uri == participant.uri`,
		`event.message.text == message.text && event.conversation.id == conversation.id`,
		`conversation.direction == "Incoming" ? true : false`,
		`any(["yo", "Hi there"], # == message.text)`,
		`len(filter(["a", "Hi there"], # == message.text)) == 1`,
		`icontains(message.text, "THERE") && iprefix(participant.uri, "SIP:") && isuffix(participant.uri, ".COM")`,
		`iequals(participant.name, "alice") && domain(participant.uri) == "contoso.com" && user(participant.uri) == "alice"`,
		`bot.account != "" && bot.name == ""`,
		`(message.html ?? "") == ""`,
		`message.reason == "" && message.direction == "Incoming"`,
		`presence(participant.uri).availability == "Online" && available(participant.uri)`,
		`string(message.text) == "Hi there"`,
		`message.text[0:2] == "Hi"`,
		`not (message.text == participant.name)`,
		`state.step == "ask" && message.text != state.step`,
	}
	in := &Input{
		Event: &event.Event{
			ID: "e1", Kind: event.MessageReceived, Account: "sip:bot@contoso.com",
			Conversation: event.Conversation{ID: "c1", Direction: "Incoming"},
			Participant:  event.Participant{URI: "sip:alice@contoso.com", Name: "Alice"},
			Message:      event.Message{Text: "Hi there", Direction: "Incoming"},
		},
		State: map[string]any{"step": "ask"},
		Presence: func(uri string) (event.Presence, bool) {
			return event.Presence{URI: uri, Availability: "Online"}, true
		},
		Bot: Bot{Account: "sip:bot@contoso.com"},
		Now: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC),
	}
	opts := append([]expr.Option{expr.Env(Env{}), expr.AsBool()}, functions...)
	run := func(p *vm.Program) (any, error) {
		env := newEnv(nil)
		env.bind(in, time.UTC)
		return vm.Run(p, env)
	}
	for _, src := range exprs {
		typed, err := expr.Compile(src, opts...)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		boxed, err := expr.Compile(src, append(opts, expr.Patch(boxedPatch{}))...)
		if err != nil {
			t.Errorf("%s: boxed: %v", src, err)
			continue
		}
		want, werr := run(typed)
		got, gerr := run(boxed)
		if want != true || werr != nil {
			t.Errorf("%s = %v, %v with typed reads; the case should hold", src, want, werr)
		}
		if got != want || (gerr == nil) != (werr == nil) {
			t.Errorf("%s: boxed %v, %v; typed %v, %v", src, got, gerr, want, werr)
		}
	}
}
