package bot_test

import (
	"fmt"

	"github.com/ucwabot/ucwabot/bot"
)

// Decode lists the UCWA events of one event-channel body with the domain
// event each yields, as `bot decode` prints them.
func ExampleDecode() {
	body := []byte(`{
  "_links": {"self": {"href": "/ucwa/oauth/v1/applications/104/events?ack=5"},
             "next": {"href": "/ucwa/oauth/v1/applications/104/events?ack=6"}},
  "sender": [{
    "rel": "conversation",
    "href": "/ucwa/oauth/v1/applications/104/communication/conversations/eee0",
    "events": [
      {"link": {"rel": "participantMessaging", "href": "/ucwa/oauth/v1/applications/104/communication/conversations/eee0/participants/lenea@contoso.com/messaging"},
       "in": {"rel": "participant", "href": "/ucwa/oauth/v1/applications/104/communication/conversations/eee0/participants/lenea@contoso.com", "title": "Lene Aaling"},
       "type": "added"},
      {"link": {"rel": "participant", "href": "/ucwa/oauth/v1/applications/104/communication/conversations/eee0/participants/lenea@contoso.com"},
       "type": "updated"}
    ]}]
}`)
	evs, err := bot.Decode(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ev := range evs {
		fmt.Printf("%s>%s(in %s):%s → %q\n", ev.Sender, ev.Rel, ev.In, ev.Type, ev.Event)
	}
	// Output:
	// conversation>participantMessaging(in participant):added → "participant.joined"
	// conversation>participant(in ):updated → ""
}
