package faq_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/bottest"
	_ "github.com/ucwabot/ucwabot/plugins/builtin"
	_ "github.com/ucwabot/ucwabot/plugins/faq"
)

const alice = "sip:alice@contoso.com"

func TestBot_faq_answers_from_its_file(t *testing.T) {
	file, err := filepath.Abs("testdata/faq.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := bottest.New(t, bottest.Rules(`
rules:
  - name: faq
    on: message.received
    do:
      - faq: {file: "`+file+`", fallback: "Sorry, I don't know that one.", field: answered}
`))
	c := b.Invite(alice, "I forgot my password again")
	c.ExpectReply("Go to https://passwordreset.contoso.com and follow the steps.")
	loc, _ := c.State()["answered"].(string)
	if !strings.HasPrefix(loc, file+":") {
		t.Fatalf("answered = %q, want %s:LINE", loc, file)
	}
	c.Say("where is the printer?")
	c.ExpectReply("Second floor, next to the kitchen.")
	c.Say("my VPN is down")
	c.ExpectReply(`<a href="https://wiki.contoso.com/vpn">The VPN guide</a>`)
	c.Say("what is the meaning of life?")
	c.ExpectReply("Sorry, I don't know that one.")
	c.Wait()
	b.ExpectNoErrors()
}

func TestBot_faq_without_fallback_lets_other_rules_answer(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "faq.yaml")
	if err := os.WriteFile(file, []byte("faq:\n  - questions: [\"What is {{.State}}?\"]\n    answer: \"It is {{.State}}, literally.\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := bottest.New(t, bottest.Rules(`
rules:
  - name: faq
    on: message.received
    do:
      - faq: {file: "`+file+`"}
  - name: unknown
    on: message.received
    when: not icontains(message.text, "state")
    do:
      - reply: {text: "ask the helpdesk"}
`))
	c := b.Invite(alice, "what is {{.State}}?")
	c.ExpectReply("It is {{.State}}, literally.")
	c.Say("hello")
	c.ExpectReply("ask the helpdesk")
	if r := c.Replies(); len(r) != 2 {
		t.Fatalf("replies = %q", r)
	}
}

func TestBot_faq_broken_file_fails_the_load_with_its_line(t *testing.T) {
	file := filepath.Join(t.TempDir(), "faq.yaml")
	if err := os.WriteFile(file, []byte("faq:\n  - patterns: ['(unclosed']\n    answer: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := bottest.LoadRules(nil, `
rules:
  - name: faq
    on: message.received
    do:
      - faq: {file: "`+file+`"}
`)
	if err == nil || !strings.Contains(err.Error(), "rules.yaml:6:") || !strings.Contains(err.Error(), file+":2") {
		t.Fatalf("err = %v, want the rule's line and the FAQ file's line", err)
	}
	_, err = bottest.LoadRules(nil, `
rules:
  - name: faq
    on: message.received
    do:
      - faq: {fallback: hm}
`)
	if err == nil || !strings.Contains(err.Error(), "rules.yaml:6:") || !strings.Contains(err.Error(), "file") {
		t.Fatalf("err = %v, want rules.yaml:6 and the missing file", err)
	}
}
