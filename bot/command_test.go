package bot

import (
	"strings"
	"testing"
)

// Issue 12: rules declare commands and help; "help" answers with the
// commands the asking person may use, and restrict_to guards a rule.
func TestEngine_answers_help_with_the_commands_the_person_may_use(t *testing.T) {
	sim := newSim(t, 1)
	start(t, testConfig(sim), tempBolt(t), loadRules(t, `
rules:
  - name: deploy
    command: deploy
    help: deploy a service
    restrict_to: [`+aliceURI+`]
    stop: true
    do:
      - echo: {prefix: "deploying: "}
  - name: echo
    on: [message.received]
    do:
      - echo: {prefix: "echo: "}
`))
	alice, err := sim.Invite(aliceURI, botURI, "help")
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "alice's help", func() bool { return len(botSaid(sim, alice.ID())) == 1 })
	if got := botSaid(sim, alice.ID())[0]; !strings.Contains(got, "deploy — deploy a service") || !strings.HasSuffix(got, "help — this list") {
		t.Fatalf("alice's help: %q", got)
	}
	if err := alice.Say(aliceURI, "deploy web"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "alice's deploy", func() bool { return len(botSaid(sim, alice.ID())) == 2 })
	if got := botSaid(sim, alice.ID())[1]; got != "deploying: deploy web" {
		t.Fatalf("alice's deploy answered %q", got)
	}

	bob, err := sim.Invite(bobURI, botURI, "help")
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "bob's help", func() bool { return len(botSaid(sim, bob.ID())) == 1 })
	if got := botSaid(sim, bob.ID())[0]; strings.Contains(got, "deploy") {
		t.Fatalf("bob's help lists a command he may not use: %q", got)
	}
	if err := bob.Say(bobURI, "deploy web"); err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, bob.ID(), botSaid(sim, bob.ID())[0], "echo: deploy web")
}
