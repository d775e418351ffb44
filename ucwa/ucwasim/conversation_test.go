package ucwasim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestInvite_follows_the_ReceiveAnIM_event_order(t *testing.T) {
	s := newServer(t, Options{})
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5) // makeMeAvailable events
	conv, err := s.Invite("sip:alice@contoso.com", "sip:bot@contoso.com", "Hi bot")
	if err != nil {
		t.Fatal(err)
	}
	evs := bot.collect(5)
	want := []string{
		"communication>messagingInvitation:started",
		"communication>conversation:added",
		"conversation>localParticipant:added",
		"conversation>participant:added",
		"communication>messagingInvitation:updated",
	}
	assertEvents(t, evs, want)
	inv := evs[0].ev["_embedded"].(map[string]any)["messagingInvitation"].(map[string]any)
	if got := href(inv, "message"); got != "data:text/plain;charset=utf-8,Hi+bot" {
		t.Errorf("invitation message = %q", got)
	}
	accept := href(inv, "accept")
	if accept == "" || href(evs[4].ev["_embedded"].(map[string]any)["messagingInvitation"].(map[string]any), "accept") != "" {
		t.Fatalf("accept link: started %q; updated must have none", accept)
	}
	bot.json("POST", accept, "", "", 204)
	evs = bot.collect(8)
	assertEvents(t, evs, []string{
		"conversation>messaging:updated",
		"communication>conversation:updated",
		"conversation>participantMessaging(in localParticipant):added",
		"conversation>participantMessaging(in participant):added",
		"conversation>participant:updated",
		"communication>messagingInvitation:completed",
		"conversation>message:completed",
		"communication>conversation:updated",
	})
	if evs[5].ev["status"] != "Success" || evs[6].ev["status"] != "Success" {
		t.Errorf("completed events need status Success: %v %v", evs[5].ev["status"], evs[6].ev["status"])
	}
	msg := evs[6].ev["_embedded"].(map[string]any)["message"].(map[string]any)
	if msg["direction"] != "Incoming" || href(msg, "plainMessage") != "data:text/plain;charset=utf-8,Hi+bot" {
		t.Errorf("duplicated first message = %v", msg)
	}
	if in := evs[3].ev["in"].(map[string]any); in["title"] != "alice" || !strings.HasSuffix(in["href"].(string), "/participants/alice@contoso.com") {
		t.Errorf("participantMessaging in = %v", in)
	}
	if conv.State() != "Connected" {
		t.Errorf("state = %s", conv.State())
	}
	messaging := evs[0].ev["_embedded"].(map[string]any)["messaging"].(map[string]any)
	send := href(messaging, "sendMessage")
	if send == "" {
		t.Fatal("no sendMessage link once connected")
	}
	bot.do("POST", send+"?operationId=op-1", "text/plain", "Hello alice")
	evs = bot.collect(1)
	assertEvents(t, evs, []string{"conversation>message:completed"})
	out := evs[0].ev["_embedded"].(map[string]any)["message"].(map[string]any)
	if out["direction"] != "Outgoing" {
		t.Errorf("bot message direction = %v", out["direction"])
	}
	sent := s.Sent("sip:bot@contoso.com")
	if len(sent) != 1 || sent[0].Text != "Hello alice" || sent[0].OperationID != "op-1" || sent[0].ContentType != "text/plain" {
		t.Errorf("Sent = %+v", sent)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tr, err := s.WaitTranscript(ctx, conv, 2)
	if err != nil || tr[0].From != "sip:alice@contoso.com" || tr[1].From != "sip:bot@contoso.com" {
		t.Errorf("transcript = %+v, %v", tr, err)
	}
}

func assertEvents(t *testing.T, got []flat, want []string) {
	t.Helper()
	var g []string
	for _, f := range got {
		g = append(g, f.String())
	}
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Fatalf("events:\n got  %v\n want %v", g, want)
	}
}

// connected returns a bot client with an accepted conversation from alice and its messaging.
func connected(t testing.TB, s *Server) (*tc, *Conversation, map[string]any) {
	t.Helper()
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	conv, err := s.Invite("sip:alice@contoso.com", "sip:bot@contoso.com", "hello")
	if err != nil {
		t.Fatal(err)
	}
	evs := bot.collect(5)
	inv := evs[0].ev["_embedded"].(map[string]any)["messagingInvitation"].(map[string]any)
	bot.json("POST", href(inv, "accept"), "", "", 204)
	evs = bot.collect(8)
	return bot, conv, evs[0].ev["_embedded"].(map[string]any)["messaging"].(map[string]any)
}

func TestJoin_Say_Leave_HangUp(t *testing.T) {
	s := newServer(t, Options{})
	bot, conv, _ := connected(t, s)
	if err := conv.Join("sip:bob@contoso.com"); err != nil {
		t.Fatal(err)
	}
	if err := conv.Say("sip:bob@contoso.com", "hi all"); err != nil {
		t.Fatal(err)
	}
	if err := conv.Leave("sip:bob@contoso.com"); err != nil {
		t.Fatal(err)
	}
	if err := conv.Say("sip:bob@contoso.com", "gone"); err == nil {
		t.Error("Say after Leave must fail")
	}
	evs := bot.collect(5)
	assertEvents(t, evs, []string{
		"conversation>participant:added",
		"conversation>participantMessaging(in participant):added",
		"conversation>message:completed",
		"conversation>participantMessaging(in participant):deleted",
		"conversation>participant:deleted",
	})
	if got := conv.Participants(); fmt.Sprint(got) != "[sip:bot@contoso.com sip:alice@contoso.com]" {
		t.Errorf("participants = %v", got)
	}
	if err := conv.HangUp("sip:alice@contoso.com"); err != nil {
		t.Fatal(err)
	}
	evs = bot.collect(5)
	assertEvents(t, evs, []string{
		"conversation>messaging:updated",
		"conversation>participantMessaging(in localParticipant):deleted",
		"conversation>participantMessaging(in participant):deleted",
		"conversation>participant:deleted",
		"conversation>localParticipant:deleted",
		"communication>conversation:deleted",
	})
	if conv.State() != "Disconnected" {
		t.Errorf("state = %s", conv.State())
	}
	if err := conv.Say("sip:alice@contoso.com", "x"); err == nil {
		t.Error("Say after HangUp must fail")
	}
}

func TestStopMessaging_ends_the_conversation(t *testing.T) {
	s := newServer(t, Options{})
	bot, conv, messaging := connected(t, s)
	bot.json("POST", href(messaging, "stopMessaging"), "", "", 204)
	evs := bot.collect(5)
	if evs[len(evs)-1].String() != "communication>conversation:deleted" {
		t.Errorf("last event = %v", evs[len(evs)-1])
	}
	if conv.State() != "Disconnected" {
		t.Errorf("state = %s", conv.State())
	}
	resp, _ := bot.do("POST", href(messaging, "sendMessage"), "text/plain", "late")
	if resp.StatusCode != 409 {
		t.Errorf("sendMessage after stop = %d, want 409", resp.StatusCode)
	}
}

func TestDecline_completes_the_invitation_with_failure(t *testing.T) {
	s := newServer(t, Options{})
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	conv, _ := s.Invite("sip:alice@contoso.com", "sip:bot@contoso.com", "hi")
	evs := bot.collect(5)
	inv := evs[0].ev["_embedded"].(map[string]any)["messagingInvitation"].(map[string]any)
	bot.json("POST", href(inv, "decline"), "application/json", `{"reason":"Local"}`, 204)
	evs = bot.collect(5)
	if evs[0].String() != "communication>messagingInvitation:completed" || evs[0].ev["status"] != "Failure" {
		t.Errorf("first = %v %v", evs[0], evs[0].ev["status"])
	}
	if conv.State() != "Disconnected" {
		t.Errorf("state = %s", conv.State())
	}
}

func TestSay_before_accept_is_delivered_after_the_first_message(t *testing.T) {
	s := newServer(t, Options{})
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	conv, _ := s.Invite("sip:alice@contoso.com", "sip:bot@contoso.com", "one")
	if err := conv.Say("sip:alice@contoso.com", "two"); err != nil {
		t.Fatal(err)
	}
	evs := bot.collect(5)
	inv := evs[0].ev["_embedded"].(map[string]any)["messagingInvitation"].(map[string]any)
	bot.json("POST", href(inv, "accept"), "", "", 204)
	evs = bot.collect(9)
	var texts []string
	for _, f := range evs {
		if f.rel == "message" {
			texts = append(texts, href(f.ev["_embedded"].(map[string]any)["message"].(map[string]any), "plainMessage"))
		}
	}
	if fmt.Sprint(texts) != "[data:text/plain;charset=utf-8,one data:text/plain;charset=utf-8,two]" {
		t.Errorf("messages = %v", texts)
	}
}

func TestStartMessaging_to_a_person_who_accepts(t *testing.T) {
	s := newServer(t, Options{})
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	comm := embedded(bot.app, "communication")
	resp, b := bot.do("POST", href(comm, "startMessaging"), "application/json",
		`{"to":"sip:alice@contoso.com","operationId":"op-7","subject":"Task","_links":{"message":{"href":"data:text/plain;charset=utf-8,Hi+Alice"}}}`)
	if resp.StatusCode != 201 || resp.Header.Get("Location") == "" {
		t.Fatalf("startMessaging = %d %s", resp.StatusCode, b)
	}
	evs := bot.collect(10)
	assertEvents(t, evs, []string{
		"communication>messagingInvitation:started",
		"communication>conversation:added",
		"conversation>localParticipant:added",
		"conversation>messaging:updated",
		"communication>conversation:updated",
		"conversation>participant:added",
		"conversation>participantMessaging(in participant):added",
		"conversation>participantMessaging(in localParticipant):added",
		"conversation>messaging:updated",
		"communication>messagingInvitation:completed",
	})
	inv := evs[0].ev["_embedded"].(map[string]any)["messagingInvitation"].(map[string]any)
	if inv["operationId"] != "op-7" || inv["direction"] != "Outgoing" {
		t.Errorf("invitation = %v", inv)
	}
	convs := s.Conversations("sip:bot@contoso.com")
	if len(convs) != 1 || convs[0].State() != "Connected" {
		t.Fatalf("conversations = %v", convs)
	}
	if tr := convs[0].Transcript(); len(tr) != 1 || tr[0].Text != "Hi Alice" {
		t.Errorf("transcript = %+v", tr)
	}
	if err := convs[0].Say("sip:alice@contoso.com", "hey"); err != nil {
		t.Fatal(err)
	}
	assertEvents(t, bot.collect(1), []string{"conversation>message:completed"})
}

func TestStartMessaging_to_a_person_who_does_not_answer_times_out(t *testing.T) {
	s := newServer(t, Options{TimeScale: 60})
	s.SetAutoAccept("sip:alice@contoso.com", false)
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	comm := embedded(bot.app, "communication")
	bot.json("POST", href(comm, "startMessaging"), "application/json", `{"to":"sip:alice@contoso.com"}`, 201)
	evs := bot.collect(8) // started..messaging updated, then failure and teardown
	var completed *flat
	for i := range evs {
		if evs[i].String() == "communication>messagingInvitation:completed" {
			completed = &evs[i]
		}
	}
	if completed == nil || completed.ev["status"] != "Failure" || completed.ev["reason"].(map[string]any)["subcode"] != "Timeout" {
		t.Fatalf("events = %v", evs)
	}
}

func TestInvite_waits_for_the_bot_to_become_available(t *testing.T) {
	s := newServer(t, Options{})
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	got := make(chan error, 1)
	go func() {
		_, err := s.Invite("sip:alice@contoso.com", "sip:bot@contoso.com", "early")
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	bot.json("POST", href(embedded(bot.app, "me"), "makeMeAvailable"), "application/json", `{}`, 204)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	s2 := newServer(t, Options{InviteWait: 30 * time.Millisecond})
	if _, err := s2.Invite("sip:alice@contoso.com", "sip:bot@contoso.com", "x"); !errors.Is(err, ErrNotAvailable) {
		t.Errorf("Invite to a signed-out bot = %v", err)
	}
}
