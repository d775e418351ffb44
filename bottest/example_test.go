package bottest_test

import (
	"fmt"

	"github.com/ucwabot/ucwabot/bottest"
	_ "github.com/ucwabot/ucwabot/plugins/builtin"
)

// Rules can be checked without a bot: the event builders make the events
// the engine would, and Fired says which rules they set off.
func ExampleFired() {
	set, err := bottest.LoadRules(nil, `
rules:
  - name: welcome
    on: participant.joined
    when: not participant.local
    do:
      - reply: {text: "welcome {{.Participant.Name}}"}
  - name: ask name
    on: message.received
    when: (state.step ?? "") == ""
    do:
      - reply: {text: "What is your name?"}
      - set: {fields: {step: name}}
  - name: thanks
    on: message.received
    when: state.step == "name"
    do:
      - reply: {text: "Thanks!"}
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer set.Close()
	show := func(names []string, err error) { fmt.Println(names, err) }
	show(bottest.Fired(set, bottest.JoinEvent("sip:alice@contoso.com"), nil))
	show(bottest.Fired(set, bottest.JoinEvent(bottest.BotURI), nil))
	show(bottest.Fired(set, bottest.MessageEvent("sip:alice@contoso.com", "hi"), nil))
	show(bottest.Fired(set, bottest.MessageEvent("sip:alice@contoso.com", "Alice"), map[string]any{"step": "name"}))
	show(bottest.Fired(set, bottest.LeaveEvent("sip:alice@contoso.com"), nil))
	// Output:
	// [welcome] <nil>
	// [] <nil>
	// [ask name] <nil>
	// [thanks] <nil>
	// [] <nil>
}
