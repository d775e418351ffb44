package shout_test

import (
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/bottest"
	_ "github.com/ucwabot/ucwabot/examples/customplugin/shout"
	_ "github.com/ucwabot/ucwabot/plugins/builtin"
)

func TestShout_through_a_bot(t *testing.T) {
	b := bottest.New(t, bottest.Rules(`
rules:
  - name: shout
    on: message.received
    do:
      - shout: {suffix: "!"}
`))
	c := b.Invite("sip:alice@contoso.com", "hello")
	c.ExpectReply("HELLO!")
	c.Say("again {{.State}}")
	c.ExpectReply("AGAIN {{.STATE}}!")
	c.ExpectTranscript(
		"sip:alice@contoso.com: hello", bottest.BotURI+": HELLO!",
		"sip:alice@contoso.com: again {{.State}}", bottest.BotURI+": AGAIN {{.STATE}}!",
	)
}

func TestShout_bad_suffix_fails_the_load_at_the_rule(t *testing.T) {
	_, err := bottest.LoadRules(nil, `
rules:
  - name: shout
    on: message.received
    do:
      - shout: {suffix: "!!!!!!!!!!!!!!!"}
`)
	if err == nil || !strings.Contains(err.Error(), "rules.yaml:6:") || !strings.Contains(err.Error(), "suffix") {
		t.Fatalf("err = %v, want rules.yaml:6 and the suffix", err)
	}
}
