package handlers_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
)

func invitation() *event.Event {
	ev := handlerstest.Message("sip:alice@contoso.com", "can you help?")
	ev.Kind = event.InvitationReceived
	return ev
}

func TestAccept_accepts_then_greets(t *testing.T) {
	h, err := handlers.NewAccept(handlers.AcceptConfig{Greeting: "Hi {{.Participant.Name}}"})
	if err != nil {
		t.Fatal(err)
	}
	req, rec := handlerstest.NewRequest(t, invitation())
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	a := rec.Actions()
	if len(a) != 2 || a[0].Op != "accept" || a[1] != (handlerstest.Action{Op: "say", Text: "Hi Alice"}) {
		t.Fatalf("actions = %+v", a)
	}
}

func TestDecline_declines(t *testing.T) {
	h, _ := handlers.NewDecline(handlers.DeclineConfig{})
	req, rec := handlerstest.NewRequest(t, invitation())
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if a := rec.Actions(); len(a) != 1 || a[0].Op != "decline" {
		t.Fatalf("actions = %+v", a)
	}
}

func TestAcceptAndDecline_refuse_other_events(t *testing.T) {
	acc, _ := handlers.NewAccept(handlers.AcceptConfig{})
	dec, _ := handlers.NewDecline(handlers.DeclineConfig{})
	for _, h := range []handlers.Handler{acc, dec} {
		req, rec := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "x"))
		if err := h.Handle(context.Background(), req); !errors.Is(err, handlers.ErrNotInvitation) {
			t.Fatalf("%T: err = %v, want ErrNotInvitation", h, err)
		}
		if len(rec.Actions()) != 0 {
			t.Fatalf("%T acted on a message: %+v", h, rec.Actions())
		}
	}
	if err := (&handlers.AcceptConfig{Greeting: "{{"}).Validate(); err == nil || !strings.Contains(err.Error(), "accept: greeting") {
		t.Fatalf("Validate() = %v", err)
	}
}

func TestAccept_reports_a_failed_accept_and_does_not_greet(t *testing.T) {
	h, _ := handlers.NewAccept(handlers.AcceptConfig{Greeting: "hi"})
	req, rec := handlerstest.NewRequest(t, invitation())
	rec.Fail("accept", errors.New("409 Conflict"))
	if err := h.Handle(context.Background(), req); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("err = %v", err)
	}
	if len(rec.Actions()) != 0 {
		t.Fatalf("actions = %+v", rec.Actions())
	}
}
