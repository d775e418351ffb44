package bot

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
)

func TestInboxEntry_round_trips_every_part_of_the_envelope(t *testing.T) {
	const acct, conv = "sip:bot@contoso.com", "https://pool.contoso.com/ucwa/oauth/v1/applications/1/communication/conversations/c1"
	envs := []envelope{
		{Event: event.Event{ID: "e1", Kind: event.InvitationReceived, Account: acct, Time: time.Unix(1700000000, 123456789),
			Conversation: event.Conversation{ID: conv, Subject: "VPN", ThreadID: "t1", Direction: "Incoming"},
			Participant:  event.Participant{URI: "sip:alice@contoso.com", Name: "Alice"},
			Message:      event.Message{Text: "hi", HTML: "<b>hi</b>", Direction: "Incoming"}},
			Links: convLinks{Self: conv, Accept: conv + "/accept", Decline: conv + "/decline", Formats: []string{"Plain", "Html"}}},
		{Event: event.Event{ID: "e2", Kind: event.ParticipantJoined, Account: acct, Time: time.Unix(1700000001, 0),
			Conversation: event.Conversation{ID: conv}, Participant: event.Participant{URI: "sip:bot@contoso.com", Local: true}}},
		{Event: event.Event{ID: "e3", Kind: event.PresenceChanged, Account: acct, Time: time.Unix(1700000002, 0),
			Presence: event.Presence{URI: "sip:bob@contoso.com", Availability: "Busy", Activity: "in-a-meeting", Expires: time.Unix(1700000900, 0).UTC()}}},
	}
	for _, env := range envs {
		p, err := encodeEntry(&env)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeEntry(p, acct, env.Event.ConversationID())
		if err != nil {
			t.Fatalf("decode %s: %v", p, err)
		}
		if !got.Event.Time.Equal(env.Event.Time) || !got.Event.Presence.Expires.Equal(env.Event.Presence.Expires) {
			t.Fatalf("times of %s: got %v/%v, want %v/%v", env.Event.ID, got.Event.Time, got.Event.Presence.Expires, env.Event.Time, env.Event.Presence.Expires)
		}
		got.Event.Time, env.Event.Time = time.Time{}, time.Time{}
		got.Event.Presence.Expires, env.Event.Presence.Expires = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, env) {
			t.Fatalf("round trip of %s:\n got %+v\nwant %+v\npayload %s", env.Event.ID, got, env, p)
		}
		if strings.Contains(string(p), `"account"`) || strings.Contains(string(p), `"`+conv+`"`) {
			t.Errorf("payload repeats the account or the conversation id: %s", p)
		}
	}
}

func TestInboxEntry_reads_the_earlier_form(t *testing.T) {
	old := envelope{Event: event.Event{ID: "e1", Kind: event.MessageReceived, Account: "sip:bot@contoso.com",
		Conversation: event.Conversation{ID: "/c1"}, Message: event.Message{Text: "hello"}}, Links: convLinks{Self: "/c1", SendMessage: "/c1/messages"}}
	p, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeEntry(p, "sip:bot@contoso.com", "/c1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, old) {
		t.Fatalf("earlier form decoded as %+v, want %+v", got, old)
	}
	if _, err := decodeEntry([]byte(`{"v":9,"i":"x"}`), "a", "c"); err == nil {
		t.Fatal("an unknown form decoded without an error")
	}
}

func TestLinkCache_keeps_links_under_the_conversation_as_suffixes(t *testing.T) {
	c := newLinkCache()
	const conv = "https://pool.contoso.com/ucwa/oauth/v1/applications/1/communication/conversations/c1"
	want := convLinks{Self: conv, Messaging: conv + "/messaging", SendMessage: conv + "/messaging/messages",
		Accept:  "https://pool.contoso.com/ucwa/oauth/v1/applications/1/communication/messagingInvitations/i1/accept",
		Formats: []string{"Plain"}, Subject: "s"}
	got := c.update(conv, func(l *convLinks) { l.merge(want) })
	if !got.equal(want) {
		t.Fatalf("update returned %+v, want %+v", got, want)
	}
	if got, ok := c.get(conv); !ok || !got.equal(want) {
		t.Fatalf("get = %+v, %v; want %+v", got, ok, want)
	}
	c.mu.Lock()
	stored := c.convs[conv].links
	c.mu.Unlock()
	if strings.Contains(stored.SendMessage, "pool.contoso.com") || stored.Accept != want.Accept {
		t.Fatalf("stored %+v: want the links under the conversation kept as suffixes, the others whole", stored)
	}
	got = c.update(conv, func(l *convLinks) { l.SetIsTyping = conv + "/messaging/typing" })
	if got.SendMessage != want.SendMessage || got.SetIsTyping != conv+"/messaging/typing" {
		t.Fatalf("second update = %+v", got)
	}
}
