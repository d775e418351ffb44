package rules

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/bot/event"
)

func TestPrefixOf_finds_the_literal_an_anchored_first_test_needs(t *testing.T) {
	cases := []struct {
		cond string
		want string // "" for none; a trailing "/i" for fold
	}{
		{`message.text matches "(?i)^cmd3\\b"`, "cmd3/i"},
		{`message.text matches "^vpn"`, "vpn"},
		{`message.text matches "\\Ahelp me"`, "help me"},
		{`message.text matches "^(?i)Reset"`, "reset/i"},
		{`message.text matches "^ab*"`, "a"},
		{`message.text matches "^café"`, "caf"},
		{`message.text matches "^é"`, ""},
		{`message.text matches "(?i)^cmd1\\b" and participant.uri != ""`, "cmd1/i"},
		{`message.text matches "^a" && (message.text matches "^b" or true)`, "a"},
		// Not the first test: what runs before it may fail and is reported.
		{`participant.uri != "" and message.text matches "^a"`, ""},
		{`message.text matches "^a" or true`, ""},
		{`not (message.text matches "^a")`, ""},
		{`message.text matches "(?m)^a"`, ""},
		{`message.text matches "a"`, ""},
		{`message.text matches "^(a|b)"`, ""},
		{`message.text matches "^a|^b"`, ""},
		{`message.text matches vars.pattern`, ""},
		{`message.html matches "^a"`, ""},
		{`conversation.subject matches "^a"`, ""},
		{`message?.text matches "^a"`, ""},
		{`let message = {text: "zzz"}; message.text matches "^a"`, ""},
		{`message.text startsWith "a"`, ""},
		{`message.text matches "^[" `, ""},
	}
	for _, c := range cases {
		var got string
		if p := prefixOf(c.cond); p != nil {
			got = p.lit
			if p.fold {
				got = strings.ToLower(got) + "/i"
			}
		}
		if got != c.want {
			t.Errorf("prefixOf(%s) = %q, want %q", c.cond, got, c.want)
		}
	}
}

// The prefilter never passes over a rule whose condition holds: over
// patterns and texts chosen to find the edges (case, the runes that fold
// to ASCII letters, short texts, bytes that are not UTF-8), Eval fires a
// rule exactly when the regular expression matches.
func TestEval_with_the_prefilter_fires_exactly_when_the_expression_matches(t *testing.T) {
	patterns := []string{`(?i)^cmd3\b`, `^cmd3\b`, `(?i)^kiss`, `(?i)^SKY`, `^Help`, `(?i)^a.c`, `^ab+c`, `(?i)^x\d`, `\Ago`}
	texts := []string{"", "c", "cmd", "cmd3", "cmd3 now", "CMD3 now", "Cmd3", "cmd30", "cmd4", " cmd3", "\u212Aiss", "kiſs", "KISS me", "\u017FKY", "SKY", "sky",
		"help", "Help!", "HELP", "abc", "ABC", "a-c", "abbbc", "ac", "x1", "X9", "xx", "go", "Go", "\xffcmd3", "cmd\xff3", "\u212A", "ſ"}
	var yaml strings.Builder
	yaml.WriteString("rules:\n")
	for i, p := range patterns {
		fmt.Fprintf(&yaml, "  - name: r%d\n    on: message.received\n    when: 'message.text matches %q'\n    do:\n      - reply: {text: hi}\n", i, p)
	}
	s, err := LoadBytes(Options{}, "prefilter.yaml", []byte(yaml.String()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	filtered := 0
	for _, r := range s.all {
		if r.prefix != nil {
			filtered++
		}
	}
	if filtered != len(patterns) {
		t.Fatalf("%d of %d rules have a prefilter, want all", filtered, len(patterns))
	}
	for _, text := range texts {
		ev := &event.Event{Kind: event.MessageReceived, Message: event.Message{Text: text}}
		ms, err := s.Eval(context.Background(), &Input{Event: ev}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, m := range ms {
			got[m.Rule.Name] = true
		}
		for i, p := range patterns {
			want := regexp.MustCompile(p).MatchString(text)
			if got[fmt.Sprintf("r%d", i)] != want {
				t.Errorf("text %q, pattern %s: fired %v, the expression says %v", text, p, !want, want)
			}
		}
	}
}
