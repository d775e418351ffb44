package bot

import (
	"strings"
	"testing"
	"time"
)

func TestResponder_acts_in_the_conversation_and_for_the_bot(t *testing.T) {
	sim := newSim(t, 1)
	r := start(t, testConfig(sim), tempBolt(t), loadRules(t, `
rules:
  - name: command
    on: [message.received]
    do:
      - command: {}
`))
	conv, err := sim.Invite(aliceURI, botURI, "html")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "<b>bold</b> move")

	if err := conv.Say(aliceURI, "typing"); err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "<b>bold</b> move", "typed")

	if err := conv.Say(aliceURI, "invite bob"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "bob in the conversation", func() bool {
		for _, p := range conv.Participants() {
			if strings.EqualFold(p, bobURI) {
				return true
			}
		}
		return false
	})

	if err := conv.Say(aliceURI, "call bob"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a conversation with bob", func() bool {
		for _, m := range sim.Sent(botURI) {
			if m.Text == "hi bob, alice sent me" && m.Conversation != conv.ID() {
				return true
			}
		}
		return false
	})

	if err := conv.Say(aliceURI, "watch bob"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a subscription to bob", func() bool {
		for _, s := range sim.Subscriptions(botURI) {
			for _, u := range s.URIs {
				if strings.EqualFold(u, bobURI) {
					return true
				}
			}
		}
		return false
	})

	if err := conv.Say(aliceURI, "bye"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the bot gone from the conversation", func() bool { return conv.State() == "Disconnected" })
	if err := r.e.Ready(); err != nil {
		t.Fatal(err)
	}
}

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
