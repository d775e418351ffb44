package ucwasim

import (
	"strings"
	"sync"
	"testing"
)

func TestGET_of_the_linked_conversation_resources(t *testing.T) {
	var mu sync.Mutex
	var logged []string
	s := newServer(t, Options{Logf: func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, format)
	}})
	bot, conv, messaging := connected(t, s)
	if err := conv.Join("sip:bob@contoso.com"); err != nil {
		t.Fatal(err)
	}
	cv := bot.json("GET", href(messaging, "conversation"), "", "", 200)
	if cv["state"] != "Connected" || !strings.HasSuffix(href(cv, "self"), "/conversations/"+conv.ID()) {
		t.Errorf("conversation = %v", cv)
	}
	ps := bot.json("GET", href(cv, "participants"), "", "", 200)
	links := ps["_links"].(map[string]any)["participant"].([]any)
	if len(links) != 2 || links[1].(map[string]any)["title"] != "bob" {
		t.Errorf("participants = %v", ps)
	}
	p := bot.json("GET", links[0].(map[string]any)["href"].(string), "", "", 200)
	if p["uri"] != "sip:alice@contoso.com" || p["rel"] != "participant" {
		t.Errorf("participant = %v", p)
	}
	lp := bot.json("GET", href(cv, "localParticipant"), "", "", 200)
	if lp["uri"] != "sip:bot@contoso.com" || href(lp, "me") == "" {
		t.Errorf("localParticipant = %v", lp)
	}
	m := bot.json("GET", href(cv, "messaging"), "", "", 200)
	if m["state"] != "Connected" || href(m, "sendMessage") == "" {
		t.Errorf("messaging = %v", m)
	}
	resp, _ := bot.do("POST", href(m, "sendMessage")+"?operationId=o1", "text/html; charset=utf-8", "<b>hi</b>")
	msg := bot.json("GET", resp.Header.Get("Location"), "", "", 200)
	if msg["direction"] != "Outgoing" || msg["operationId"] != "o1" {
		t.Errorf("message = %v", msg)
	}
	if sent := s.Sent("sip:bot@contoso.com"); sent[0].ContentType != "text/html" || sent[0].Text != "<b>hi</b>" {
		t.Errorf("sent = %+v", sent)
	}
	first := bot.json("GET", href(m, "self")+"/messages/1", "", "", 200)
	if first["direction"] != "Incoming" || href(first, "plainMessage") != "data:text/plain;charset=utf-8,hello" {
		t.Errorf("first message = %v", first)
	}
	bot.json("POST", href(m, "setIsTyping"), "", "", 204)
	bot.json("POST", href(cv, "addParticipant"), "application/json", `{"to":"sip:alice@contoso.com"}`, 201)
	list := bot.json("GET", href(embedded(bot.app, "communication"), "conversations"), "", "", 200)
	if l := list["_links"].(map[string]any)["conversation"].([]any); len(l) != 1 || l[0].(map[string]any)["href"] != href(cv, "self") {
		t.Errorf("conversations = %v", list)
	}
	bot.json("DELETE", href(cv, "self"), "", "", 204)
	if conv.State() != "Disconnected" {
		t.Errorf("state after DELETE = %s", conv.State())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logged) == 0 {
		t.Error("Logf not called")
	}
}

func TestSayHTML_and_Typing_events(t *testing.T) {
	s := newServer(t, Options{})
	bot, conv, _ := connected(t, s)
	if err := conv.Typing("sip:alice@contoso.com"); err != nil {
		t.Fatal(err)
	}
	if err := conv.SayHTML("sip:alice@contoso.com", "<i>x y</i>"); err != nil {
		t.Fatal(err)
	}
	evs := bot.collect(2)
	assertEvents(t, evs, []string{"conversation>participant(in typingParticipants):added", "conversation>message:completed"})
	msg := evs[1].ev["_embedded"].(map[string]any)["message"].(map[string]any)
	if href(msg, "htmlMessage") != "data:text/html;charset=utf-8,%3Ci%3Ex+y%3C%2Fi%3E" || href(msg, "plainMessage") != "data:text/plain;charset=utf-8,x+y" {
		t.Errorf("html message links = %v", msg["_links"])
	}
}
