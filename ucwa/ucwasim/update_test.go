package ucwasim

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/ucwa"
)

func TestUpdateParticipant_emits_participantMessaging_updated_in_participant(t *testing.T) {
	s := newServer(t, Options{})
	bot, conv, _ := connected(t, s)
	if err := conv.UpdateParticipant("sip:alice@contoso.com"); err != nil {
		t.Fatal(err)
	}
	evs := bot.collect(1)
	assertEvents(t, evs, []string{"conversation>participantMessaging(in participant):updated"})
	in := evs[0].ev["in"].(map[string]any)
	if in["title"] != "alice" || !strings.HasSuffix(in["href"].(string), "/participants/alice@contoso.com") {
		t.Errorf("in = %v", in)
	}
	link := evs[0].ev["link"].(map[string]any)["href"].(string)
	if !strings.HasSuffix(link, "/participants/alice@contoso.com/messaging") {
		t.Errorf("link = %v", link)
	}
	if err := conv.UpdateParticipant("sip:bob@contoso.com"); !errors.Is(err, ErrNotParticipant) {
		t.Errorf("UpdateParticipant of a non-member = %v, want ErrNotParticipant", err)
	}
	if err := conv.HangUp("sip:alice@contoso.com"); err != nil {
		t.Fatal(err)
	}
	if err := conv.UpdateParticipant("sip:alice@contoso.com"); !errors.Is(err, ErrConversationEnded) {
		t.Errorf("UpdateParticipant after HangUp = %v, want ErrConversationEnded", err)
	}
}

func TestPresenceSubscription_carries_its_expirationTime(t *testing.T) {
	s := newServer(t, Options{TimeScale: 600, AppIdleTimeout: time.Hour})
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	sub := subscribe(t, bot, `{"duration":10,"uris":["sip:alice@contoso.com"]}`)
	infos := s.Subscriptions("sip:bot@contoso.com")
	if len(infos) != 1 {
		t.Fatalf("Subscriptions = %+v", infos)
	}
	exp, err := ucwa.ParseDate(sub["expirationTime"].(string))
	if err != nil {
		t.Fatalf("expirationTime %v: %v", sub["expirationTime"], err)
	}
	if !exp.Equal(infos[0].Expires.Truncate(time.Millisecond)) {
		t.Errorf("expirationTime = %v, want %v", exp, infos[0].Expires)
	}
	got := bot.json("GET", href(sub, "self"), "", "", 200)
	if got["expirationTime"] != sub["expirationTime"] {
		t.Errorf("GET expirationTime = %v, want %v", got["expirationTime"], sub["expirationTime"])
	}
	// The expiry warning embeds the subscription with the same time.
	var warn map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for warn == nil && time.Now().Before(deadline) {
		for _, f := range flatten(bot.poll()) {
			if f.String() == "people>presenceSubscription:updated" {
				warn = f.ev
			}
		}
	}
	if warn == nil {
		t.Fatal("no presenceSubscription updated warning")
	}
	if e := embedded(warn, "presenceSubscription"); e["expirationTime"] != sub["expirationTime"] {
		t.Errorf("warning expirationTime = %v, want %v", e["expirationTime"], sub["expirationTime"])
	}
}
