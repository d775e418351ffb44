package oncall_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/bottest"
	_ "github.com/ucwabot/ucwabot/plugins/builtin"
	_ "github.com/ucwabot/ucwabot/plugins/oncall"
)

// ann and bob are declared in oncall_test.go.
const (
	alice = "sip:alice@contoso.com"
	carl  = "sip:carl@contoso.com"
)

const oncallRules = `
subscribe: [` + ann + `, ` + bob + `, ` + carl + `]
rules:
  - name: page on-call
    on: message.received
    when: icontains(message.text, "urgent")
    do:
      - oncall:
          engineers: [` + ann + `, ` + bob + `, ` + carl + `]
          message: "Paging {{.Engineer}} for {{.Participant.Name}}."
`

func TestBot_oncall_invites_the_first_available_engineer(t *testing.T) {
	b := bottest.New(t, bottest.Rules(oncallRules))
	b.SetPresence(ann, "Busy")
	b.SetPresence(bob, "Online")
	b.SetPresence(carl, "Online")
	b.ExpectPresence(ann, "Busy")
	b.ExpectPresence(bob, "Online")
	b.ExpectPresence(carl, "Online")

	c := b.Invite(alice, "urgent: the mail server is down")
	c.ExpectReply("Paging " + bob + " for Alice.")
	c.ExpectParticipant(bob)
	c.ExpectState("oncall", bob)
	for _, p := range c.Participants() {
		if p == ann || p == carl {
			t.Fatalf("participants = %q: only bob was to be invited", c.Participants())
		}
	}

	// The engineer is remembered: asking again does not invite anyone else.
	b.SetPresence(bob, "Away")
	b.ExpectPresence(bob, "Away")
	c.Say("still urgent!")
	c.ExpectReply(bob + " is already on it.")
	c.Wait()
	b.ExpectNoErrors()
}

func TestBot_oncall_follows_presence_changes(t *testing.T) {
	b := bottest.New(t, bottest.Rules(oncallRules))
	for _, e := range []string{ann, bob, carl} {
		b.SetPresence(e, "Away")
		b.ExpectPresence(e, "Away")
	}
	c := b.Invite(alice, "urgent")
	c.ExpectReply("Nobody on call is available right now. Please try again later.")

	b.SetPresence(carl, "Online")
	b.ExpectPresence(carl, "Online")
	c2 := b.Invite(bob, "URGENT please")
	c2.ExpectReply("Paging " + carl + " for Bob.")
	c2.ExpectParticipant(carl)
	if st := c.State(); st["oncall"] != nil {
		t.Fatalf("the first conversation's state = %v", st)
	}
}

const escalationRules = `
subscribe: [` + ann + `, ` + bob + `]
rules:
  - name: page on-call
    on: message.received
    when: icontains(message.text, "urgent")
    do:
      - oncall:
          engineers: [` + ann + `, ` + bob + `]
          escalate_after: 2s
  - name: on-call follow-up
    on: [participant.joined, timer.fired]
    do:
      - oncall:
          engineers: [` + ann + `, ` + bob + `]
          escalate_after: 2s
`

// Issue 12: the engineer brought in has not joined in time, so the next
// one is brought in and the person waiting is told; once that one joins,
// nothing more happens.
func TestBot_oncall_escalates_when_the_engineer_does_not_join(t *testing.T) {
	b := bottest.New(t, bottest.Rules(escalationRules))
	b.SetPresence(ann, "Online")
	b.SetPresence(bob, "Online")
	b.Sim.SetAutoAccept(ann, false) // ann never joins
	b.ExpectPresence(ann, "Online")
	b.ExpectPresence(bob, "Online")

	c := b.Invite(alice, "urgent: the VPN is down")
	c.ExpectReply("I've asked " + ann + " to join this conversation.")
	c.ExpectReply(ann + " has not joined yet, so I've asked " + bob + " to join as well.")
	c.ExpectParticipant(bob)
	c.ExpectState("oncall", bob)
	c.Wait()
	// Bob joined: his timer was cancelled, no third message comes.
	time.Sleep(3 * time.Second)
	c.Wait()
	var escalations int
	for _, s := range b.Sent() {
		if strings.Contains(s, "has not joined yet") {
			escalations++
		}
	}
	if escalations != 1 {
		t.Fatalf("%d escalations, want 1: %q", escalations, b.Sent())
	}
	b.ExpectNoErrors()
}
