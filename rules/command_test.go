package rules_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/rules"
)

const commandRules = `version: 1
rules:
  - name: deploy
    command: deploy
    help: deploy <service> to production
    restrict_to: [sip:alice@contoso.com, ops.contoso.com]
    do: [leave]
  - name: status
    command: /Status
    help: how things are
    do: [leave]
  - name: quiet-status
    command: status
    when: 'message.text contains "quiet"'
    do: [leave]
  - name: hello
    on: [message.received]
    when: 'message.text == "hello"'
    restrict_to: [contoso.com]
    do: [leave]
`

func say(from, text string) *event.Event {
	return &event.Event{Kind: event.MessageReceived, ID: "e1", Account: "sip:bot@contoso.com",
		Participant: event.Participant{URI: from}, Message: event.Message{Text: text, Direction: "Incoming"}}
}

func TestCommands_fire_on_their_word_for_the_people_they_admit(t *testing.T) {
	s := loadText(t, rules.Options{}, commandRules)
	for _, tc := range []struct {
		from, text string
		want       []string
	}{
		{"sip:alice@contoso.com", "deploy web", []string{"deploy"}},
		{"sip:alice@contoso.com", "  /DEPLOY web", []string{"deploy"}},
		{"sip:alice@contoso.com", "deploy: web, now", []string{"deploy"}},
		{"sip:bob@ops.contoso.com", "deploy web", []string{"deploy"}},
		{"sip:bob@contoso.com", "deploy web", []string{}},
		{"sip:mallory@evil.com", "deploy", []string{}},
		{"sip:bob@contoso.com", "deployment", []string{}},
		{"sip:bob@contoso.com", "status", []string{"status"}},
		{"sip:bob@contoso.com", "status quiet please", []string{"status", "quiet-status"}},
		{"sip:bob@contoso.com", "hello", []string{"hello"}},
		{"sip:bob@sub.contoso.com", "hello", []string{"hello"}},
		{"sip:bob@notcontoso.com", "hello", []string{}},
	} {
		ms, err := s.Eval(context.Background(), &rules.Input{Event: say(tc.from, tc.text)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := fired(ms); !slices.Equal(got, tc.want) {
			t.Errorf("%s says %q: fired %v, want %v", tc.from, tc.text, got, tc.want)
		}
	}
}

func TestHelp_lists_the_commands_the_asker_may_use(t *testing.T) {
	s := loadText(t, rules.Options{}, commandRules)
	help := func(from, text string) string {
		ms, err := s.Eval(context.Background(), &rules.Input{Event: say(from, text)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 1 || ms[0].Rule != rules.HelpRule {
			t.Fatalf("%s asks %q: fired %v, want the help answer", from, text, fired(ms))
		}
		return ms[0].Help
	}
	alice := help("sip:alice@contoso.com", "help")
	want := rules.DefaultHelpIntro + "\ndeploy — deploy <service> to production\nstatus — how things are\nhelp — this list"
	if alice != want {
		t.Errorf("alice's help:\n%s\nwant:\n%s", alice, want)
	}
	if bob := help("sip:bob@contoso.com", "HELP"); strings.Contains(bob, "deploy") || !strings.Contains(bob, "status — how things are") {
		t.Errorf("bob's help lists what he may not use, or misses what he may:\n%s", bob)
	}

	// A configured word and intro; a rule may take the word itself.
	s2 := loadText(t, rules.Options{}, "help: {command: aide, intro: \"Commandes :\"}\n"+strings.TrimPrefix(commandRules, "version: 1\n"))
	ms, _ := s2.Eval(context.Background(), &rules.Input{Event: say("sip:bob@contoso.com", "aide")}, nil)
	if len(ms) != 1 || !strings.HasPrefix(ms[0].Help, "Commandes :\n") || !strings.HasSuffix(ms[0].Help, "aide — this list") {
		t.Errorf("configured help word: %+v", ms)
	}
	if ms, _ := s2.Eval(context.Background(), &rules.Input{Event: say("sip:bob@contoso.com", "help")}, nil); len(ms) != 0 {
		t.Errorf("help with the word aide configured fired %v", fired(ms))
	}
	own := loadText(t, rules.Options{}, commandRules+"  - name: my-help\n    command: help\n    do: [leave]\n")
	if ms, _ := own.Eval(context.Background(), &rules.Input{Event: say("sip:bob@contoso.com", "help")}, nil); !slices.Equal(fired(ms), []string{"my-help"}) {
		t.Errorf("a rule with command help: fired %v, want my-help", fired(ms))
	}
	// Without any command, help is an ordinary message.
	plain := loadText(t, rules.Options{}, "version: 1\nrules:\n  - name: echo\n    on: message.received\n    do: [leave]\n")
	if ms, _ := plain.Eval(context.Background(), &rules.Input{Event: say("sip:bob@contoso.com", "help")}, nil); !slices.Equal(fired(ms), []string{"echo"}) {
		t.Errorf("help without commands: fired %v, want echo", fired(ms))
	}
}
