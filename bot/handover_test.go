package bot

import (
	"testing"
)

// Issue 14: a graceful stop of the lease holder deleted the UCWA
// application, so a rolling restart of two instances ended every open
// chat. With a standby present (handover auto), the stop leaves the
// application and its cursor to it: the conversation goes on, answered by
// the standby, once. Without one, or with handover never, the stop says
// goodbye to the server as before.
func TestEngine_a_graceful_stop_hands_the_application_over_to_a_standby(t *testing.T) {
	for _, tc := range []struct {
		name      string
		handover  string
		standby   bool
		continues bool
	}{
		{"auto with a standby", HandoverAuto, true, true},
		{"never with a standby", HandoverNever, true, false},
		{"auto alone", HandoverAuto, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := newSim(t, 1)
			prefix := redisPrefix(t)
			set := loadRules(t, echoRules)
			cfgA := testConfig(sim)
			cfgA.InstanceID, cfgA.Handover = "A", tc.handover
			a := start(t, cfgA, openRedis(t, prefix, "A"), set)
			conv, err := sim.Invite(aliceURI, botURI, "m0")
			if err != nil {
				t.Fatal(err)
			}
			waitReplies(t, sim, conv.ID(), "echo: m0")
			var b *running
			if tc.standby {
				cfgB := testConfig(sim)
				cfgB.InstanceID = "B"
				b = start(t, cfgB, openRedis(t, prefix, "B"), set)
				waitUntil(t, "B standing by", func() bool { return b.e.Status()[0].State == stateStandby })
				waitUntil(t, "B's standby mark", func() bool { return a.e.accounts[0].standbyPresent(t.Context()) })
			}
			a.stop()
			if !tc.continues {
				waitUntil(t, "the conversation ended by the stop", func() bool { return conv.State() == "Disconnected" })
				return
			}
			if s := conv.State(); s != "Connected" {
				t.Fatalf("after A's stop the conversation is %s, want Connected", s)
			}
			waitUntil(t, "B driving the account", func() bool { return b.e.Status()[0].Owner })
			if err := conv.Say(aliceURI, "m1"); err != nil {
				t.Fatal(err)
			}
			waitReplies(t, sim, conv.ID(), "echo: m0", "echo: m1")
			if s := conv.State(); s != "Connected" {
				t.Fatalf("after B's takeover the conversation is %s, want Connected", s)
			}
		})
	}
}
