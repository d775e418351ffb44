package handlers_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
)

func TestLog_writes_the_rendered_message_at_its_level(t *testing.T) {
	var buf bytes.Buffer
	l := logrus.New()
	l.SetOutput(&buf)
	l.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true})
	h, err := handlers.NewLog(handlers.LogConfig{Message: "{{.Participant.URI}} asked for help", Level: "warn"})
	if err != nil {
		t.Fatal(err)
	}
	req, rec := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "help"))
	req.Log = l
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, want := range []string{"level=warning", `msg="sip:alice@contoso.com asked for help"`, "kind=message.received", "participant=\"sip:alice@contoso.com\"", "event=ev-1"} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %q", got, want)
		}
	}
	if len(rec.Actions()) != 0 {
		t.Fatalf("log acted: %+v", rec.Actions())
	}
	if err := (&handlers.LogConfig{Level: "loud"}).Validate(); err == nil || !strings.Contains(err.Error(), `"loud"`) {
		t.Fatalf("Validate() = %v", err)
	}
}
