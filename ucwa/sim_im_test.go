package ucwa_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/ucwa"
)

func TestClient_receives_an_IM_accepts_chats_and_leaves(t *testing.T) {
	sim := startSim(t)
	s := available(t, sim)
	ctx := ctxT(t)
	conv, err := sim.Invite(aliceURI, botURI, "hello bot")
	if err != nil {
		t.Fatal(err)
	}
	inv := s.waitEvent("communication", "messagingInvitation", "started", nil)
	if inv.Resource == nil || inv.Resource.String("direction") != "Incoming" {
		t.Fatalf("invitation %+v", inv)
	}
	if from := inv.Resource.First("from"); from == nil || from.String("uri") != aliceURI {
		t.Errorf("from = %+v", from)
	}
	if _, preview, err := ucwa.DecodeDataURI(inv.Resource.Links.Href("message")); err != nil || preview != "hello bot" {
		t.Errorf("preview %q %v", preview, err)
	}
	if err := s.c.Accept(ctx, inv.Resource.Links.Href("accept")); err != nil {
		t.Fatal(err)
	}
	msgn := s.waitEvent("conversation", "messaging", "updated", func(e ucwa.Event) bool {
		return e.Resource != nil && e.Resource.String("state") == "Connected"
	})
	sendHref := msgn.Resource.Links.Href("sendMessage")
	typingHref := msgn.Resource.Links.Href("setIsTyping")
	convHref := msgn.Resource.Links.Href("conversation")
	if sendHref == "" || typingHref == "" || convHref == "" {
		t.Fatalf("messaging links %+v", msgn.Resource.Links)
	}
	first := s.waitEvent("conversation", "message", "completed", func(e ucwa.Event) bool {
		return e.Resource != nil && e.Resource.String("direction") == "Incoming"
	})
	if !first.Succeeded() || messageText(t, first.Resource) != "hello bot" {
		t.Fatalf("first message %+v %q", first, messageText(t, first.Resource))
	}

	if err := conv.Say(aliceURI, "what's up?\r\nline two"); err != nil {
		t.Fatal(err)
	}
	second := s.waitEvent("conversation", "message", "completed", func(e ucwa.Event) bool {
		return e.Resource != nil && e.Resource.String("direction") == "Incoming"
	})
	if got := messageText(t, second.Resource); got != "what's up?\r\nline two" {
		t.Fatalf("second message %q", got)
	}
	if ts, ok := second.Resource.Time("timeStamp"); !ok || ts.IsZero() {
		t.Errorf("timeStamp %v %v", ts, ok)
	}

	if err := s.c.SetIsTyping(ctx, typingHref); err != nil {
		t.Fatal(err)
	}
	loc, err := s.c.SendMessage(ctx, sendHref, "text/plain", "Hi Alice + friends: 100%", "op-reply-1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, sim.URL()) {
		t.Errorf("message location %q", loc)
	}
	if _, err := s.c.SendMessage(ctx, sendHref, "text/html", "<b>bold</b>", "op-reply-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.SendMessage(ctx, sendHref, "application/pdf", "x", "op"); err == nil {
		t.Fatal("a pdf message was sent")
	}
	sent := sim.Sent(botURI)
	if len(sent) != 2 || sent[0].Text != "Hi Alice + friends: 100%" || sent[0].OperationID != "op-reply-1" ||
		sent[1].ContentType != "text/html" || sent[1].Text != "<b>bold</b>" {
		t.Fatalf("simulator saw %+v", sent)
	}
	s.waitEvent("conversation", "message", "completed", func(e ucwa.Event) bool {
		return e.Resource != nil && e.Resource.String("direction") == "Outgoing"
	})

	if err := conv.Typing(aliceURI); err != nil {
		t.Fatal(err)
	}
	parts, err := s.c.Participants(ctx, convHref)
	if err != nil {
		t.Fatal(err)
	}
	var sawAlice, sawBot bool
	for _, p := range parts {
		sawAlice = sawAlice || (p.URI == aliceURI && !p.Local && p.Name == "Alice Ames")
		sawBot = sawBot || p.Local
	}
	if !sawAlice || !sawBot {
		t.Errorf("participants %+v", parts)
	}
	active, err := s.c.ActiveConversations(ctx, s.app)
	if err != nil || len(active) != 1 || active[0] != convHref {
		t.Fatalf("active %v %v (want %s)", active, err, convHref)
	}

	if err := s.c.Leave(ctx, convHref); err != nil {
		t.Fatal(err)
	}
	s.waitEvent("communication", "conversation", "deleted", nil)
	if st := conv.State(); st != "Disconnected" {
		t.Errorf("conversation state %q", st)
	}
}

func TestClient_starts_an_outgoing_IM(t *testing.T) {
	sim := startSim(t)
	s := available(t, sim)
	ctx := ctxT(t)
	loc, err := s.c.StartMessaging(ctx, s.app, aliceURI, "Status", "ping", "op-start-1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, sim.URL()) {
		t.Errorf("invitation location %q", loc)
	}
	// PROTOCOL.md §8.3 step 3: messaging becomes Connected, then the invitation completes.
	msgn := s.waitEvent("conversation", "messaging", "updated", func(e ucwa.Event) bool {
		return e.Resource != nil && e.Resource.Links.Href("sendMessage") != ""
	})
	done := s.waitEvent("communication", "messagingInvitation", "completed", nil)
	if !done.Succeeded() || done.Resource == nil || done.Resource.String("operationId") != "op-start-1" {
		t.Fatalf("completion %+v", done)
	}
	if len(done.Resource.Embedded["acceptedByParticipant"]) == 0 {
		t.Error("no acceptedByParticipant")
	}
	if _, err := s.c.SendMessage(ctx, msgn.Resource.Links.Href("sendMessage"), "", "follow-up", "op-2"); err != nil {
		t.Fatal(err)
	}
	convs := sim.Conversations(botURI)
	if len(convs) != 1 {
		t.Fatalf("%d conversations", len(convs))
	}
	msgs, err := sim.WaitTranscript(ctx, convs[0], 2)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].Text != "ping" || msgs[1].Text != "follow-up" || msgs[1].From != botURI {
		t.Errorf("transcript %+v", msgs)
	}
	if err := s.c.StopMessaging(ctx, msgn.Resource.Links.Href("stopMessaging")); err != nil {
		t.Fatal(err)
	}
	s.waitEvent("communication", "conversation", "deleted", nil)
}

func TestClient_declines_an_invitation(t *testing.T) {
	sim := startSim(t)
	s := available(t, sim)
	conv, err := sim.Invite(aliceURI, botURI, "are you there?")
	if err != nil {
		t.Fatal(err)
	}
	inv := s.waitEvent("communication", "messagingInvitation", "started", nil)
	if err := s.c.Decline(ctxT(t), inv.Resource.Links.Href("decline"), "Local"); err != nil {
		t.Fatal(err)
	}
	done := s.waitEvent("communication", "messagingInvitation", "completed", nil)
	if done.Succeeded() {
		t.Fatalf("declined invitation succeeded: %+v", done)
	}
	deadline := time.Now().Add(5 * time.Second)
	for conv.State() != "Disconnected" && time.Now().Before(deadline) {
		s.poll()
	}
	if conv.State() != "Disconnected" {
		t.Errorf("state %q", conv.State())
	}
}
