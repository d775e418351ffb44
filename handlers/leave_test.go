package handlers_test

import (
	"context"
	"testing"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
)

func TestLeave_says_goodbye_then_leaves(t *testing.T) {
	h, err := handlers.NewLeave(handlers.LeaveConfig{Message: "Bye {{.Participant.Name}}"})
	if err != nil {
		t.Fatal(err)
	}
	req, rec := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "bye"))
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	a := rec.Actions()
	if len(a) != 2 || a[0] != (handlerstest.Action{Op: "say", Text: "Bye Alice"}) || a[1].Op != "leave" {
		t.Fatalf("actions = %+v", a)
	}
	if err := (&handlers.LeaveConfig{Message: "{{"}).Validate(); err == nil {
		t.Fatal("Validate accepted a broken template")
	}
}
