package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
	"github.com/ucwabot/ucwabot/handlers/middleware"
)

func TestLogging_logs_failures_with_the_error_and_successes_at_debug(t *testing.T) {
	var buf bytes.Buffer
	l := logrus.New()
	l.SetOutput(&buf)
	l.SetLevel(logrus.DebugLevel)
	l.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true})
	fail := errors.New("upstream said no")
	h := middleware.Logging()(handlers.HandlerFunc(func(_ context.Context, req *handlers.Request) error {
		if req.Event.Message.Text == "bad" {
			return fail
		}
		return nil
	}))
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "bad"))
	req.Log = l.WithField("rule", "greet")
	if err := h.Handle(context.Background(), req); err != fail {
		t.Fatalf("err = %v, want the handler's error unchanged", err)
	}
	req.Event.Message.Text = "good"
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("log = %q", buf.String())
	}
	for _, want := range []string{"level=warning", "handler failed", `error="upstream said no"`, "rule=greet", "duration="} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("failure line %q lacks %q", lines[0], want)
		}
	}
	if !strings.Contains(lines[1], "level=debug") || !strings.Contains(lines[1], "handler done") {
		t.Errorf("success line = %q", lines[1])
	}
}
