package bot

import (
	"testing"
)

const memoryRules = `
rules:
  - name: remember-language
    on: [message.received]
    when: 'message.text == "deutsch bitte"'
    stop: true
    do:
      - set: {scope: person, fields: {lang: de}}
      - set: {scope: kv, fields: {german_speakers: 1}, ttl: 1h}
      - echo: {prefix: "ok: "}
  - name: german
    on: [message.received]
    when: 'person.state.lang == "de"'
    stop: true
    do:
      - reply: {text: "Hallo {{.Person.lang}}: {{.Message.Text}}"}
  - name: someone-speaks-german
    on: [message.received]
    when: 'kv("german_speakers") == 1'
    stop: true
    do:
      - echo: {prefix: "kv: "}
  - name: echo
    on: [message.received]
    do:
      - echo: {prefix: "echo: "}
`

// Issue 12: per-person state follows a person into a new conversation,
// and the bot-wide key/value space is read by another person's rules,
// also after the account moved to another instance.
func TestEngine_person_state_follows_a_person_into_a_new_conversation_after_a_takeover(t *testing.T) {
	set := loadBuiltinRules(t, memoryRules)
	if !set.UsesPerson() {
		t.Fatal("the rules read person.state but the set does not say so")
	}
	sim := newSim(t, 1)
	prefix := redisPrefix(t)
	cfgA := testConfig(sim)
	cfgA.InstanceID = "A"
	a := start(t, cfgA, openRedis(t, prefix, "A"), set)
	first, err := sim.Invite(aliceURI, botURI, "hello")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, first.ID(), "echo: hello")
	if err := first.Say(aliceURI, "deutsch bitte"); err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, first.ID(), "echo: hello", "ok: deutsch bitte")

	// A stops; B takes the account over and reads the person's state
	// from the store.
	cfgB := testConfig(sim)
	cfgB.InstanceID = "B"
	b := start(t, cfgB, openRedis(t, prefix, "B"), set)
	waitUntil(t, "B standing by", func() bool { return b.e.Status()[0].State == stateStandby })
	a.stop()
	waitUntil(t, "B driving the account", func() bool { return b.e.Status()[0].Owner })

	second, err := sim.Invite(aliceURI, botURI, "wie geht's")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, second.ID(), "Hallo de: wie geht's")
	other, err := sim.Invite(bobURI, botURI, "hi")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, other.ID(), "kv: hi")
}
