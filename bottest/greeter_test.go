package bottest_test

import (
	"testing"

	"github.com/ucwabot/ucwabot/bottest"
	_ "github.com/ucwabot/ucwabot/plugins/builtin"
)

// A plugin test starts a bot with rules, scripts a person and checks
// what the bot said and stored.
func TestExample_greeter(t *testing.T) {
	b := bottest.New(t, bottest.Rules(`
rules:
  - name: greet
    on: [message.received]
    do:
      - reply: {text: "Hello {{.Participant.Name}}!"}
      - set: {fields: {greeted: true}}
`))
	c := b.Invite("sip:alice@contoso.com", "hi")
	c.ExpectReply("Hello Alice!")
	c.ExpectState("greeted", true)
}
