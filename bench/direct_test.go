package bench

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/ucwa"
)

func messageEvent(conv, direction string) *ucwa.Event {
	href := conv + "/messaging/messages/1"
	return &ucwa.Event{
		Sender: "conversation", SenderHref: conv, Type: "completed",
		Link: ucwa.Link{Rel: "message", Href: href},
		Resource: &ucwa.Resource{Rel: "message",
			Links: ucwa.Links{"self": {{Rel: "self", Href: href}}, "messaging": {{Rel: "messaging", Href: conv + "/messaging"}}},
			Props: map[string]json.RawMessage{"direction": json.RawMessage(`"` + direction + `"`)}},
	}
}

func TestDirectWire_serves_messages_and_replies_from_memory_and_a_batch_again(t *testing.T) {
	const conv = "http://127.0.0.1:1/ucwa/oauth/v1/applications/1/communication/conversations/c1"
	tr := newTracker(10, 10)
	w := newDirectWire(nil, tr)
	w.learn(&ucwa.Batch{Events: []ucwa.Event{*messageEvent(conv, "Incoming"), *messageEvent(conv, "Outgoing")}})
	if w.templates() != 1 {
		t.Fatalf("templates = %d, want the conversation's two", w.templates())
	}
	w.on()
	ctx := context.Background()
	tr.inject(3)
	if err := w.say(conv, "cmd3 hello world"); err != nil {
		t.Fatal(err)
	}
	b, err := w.Poll(ctx, directPrefix+"1", time.Minute)
	if err != nil || len(b.Events) != 1 || b.Next != directPrefix+"2" {
		t.Fatalf("batch 1 = %+v, %v; want the message and next 2", b, err)
	}
	ev := b.Events[0]
	if got := ev.Resource.Links.Href("plainMessage"); got != "data:text/plain;charset=utf-8,cmd3+hello+world" {
		t.Errorf("plainMessage = %q", got)
	}
	if ev.Link.Href == conv+"/messaging/messages/1" || ev.Resource.Self() != ev.Link.Href {
		t.Errorf("message href %q, self %q: want one of its own, the same in both", ev.Link.Href, ev.Resource.Self())
	}
	if again, _ := w.Poll(ctx, directPrefix+"1", time.Minute); again != b {
		t.Errorf("batch 1 asked again = %+v, want the same batch", again)
	}

	if _, err := w.SendMessage(ctx, conv+"/messaging/sendMessage", "text/plain", "[3] count=1", "op-7"); err != nil {
		t.Fatal(err)
	}
	if tr.n.Load() != 1 || strings.Join(w.sentDirectly("c1"), "|") != "[3] count=1" || w.repliesSent() != 1 {
		t.Errorf("reply not recorded: tracker %d, sent %q", tr.n.Load(), w.sentDirectly("c1"))
	}
	b2, err := w.Poll(ctx, directPrefix+"2", time.Minute)
	if err != nil || len(b2.Events) != 1 {
		t.Fatalf("batch 2 = %+v, %v; want the reply's own message event", b2, err)
	}
	if op := b2.Events[0].Resource.String("operationId"); op != "op-7" || b2.Events[0].Resource.String("direction") != "Outgoing" {
		t.Errorf("reply event: operationId %q, direction %q", op, b2.Events[0].Resource.String("direction"))
	}
	empty, err := w.Poll(ctx, directPrefix+"3", time.Millisecond)
	if err != nil || len(empty.Events) != 0 || empty.Next != directPrefix+"4" {
		t.Errorf("an idle poll = %+v, %v; want an empty batch moving on", empty, err)
	}
	if _, err := w.SendMessage(ctx, "http://127.0.0.1:1/elsewhere", "text/plain", "x", "op"); err == nil {
		t.Error("a send link under no conversation was taken")
	}
}
