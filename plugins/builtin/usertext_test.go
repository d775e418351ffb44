package builtin_test

import (
	"testing"

	"github.com/ucwabot/ucwabot/bottest"
)

// User text is data: template and expr syntax in a message reaches the
// reply template and the rules' when: as a string, is matched like any other
// text and comes back literally, never evaluated.
func TestBot_user_text_with_template_and_expr_syntax_is_answered_literally(t *testing.T) {
	b := bottest.New(t, bottest.Rules(`
rules:
  - name: contains
    on: message.received
    when: message.text contains "1+1" || message.text startsWith "env("
    stop: true
    do:
      - reply: {text: "expr-looking: {{.Message.Text}}"}
  - name: echo
    on: message.received
    do:
      - reply: {text: "you said: {{ .Message.Text }}"}
`))
	c := b.Invite(alice, "hello")
	c.ExpectReply("you said: hello")
	for _, tc := range []struct{ say, want string }{
		{"{{ .Text }}", "you said: {{ .Text }}"},
		{"{{ }}", "you said: {{ }}"},
		{`{{ template "x" }}{{ .Message.Text }}`, `you said: {{ template "x" }}{{ .Message.Text }}`},
		{"1+1", "expr-looking: 1+1"},
		{`env("HOME")`, `expr-looking: env("HOME")`},
		{`message.text == "" || true`, `you said: message.text == "" || true`},
		{"2*3", "you said: 2*3"},
	} {
		c.Say(tc.say)
		c.ExpectReply(tc.want)
	}
	c.Wait()
	b.ExpectNoErrors()
}
