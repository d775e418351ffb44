package oncall_test

import (
	"testing"

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
