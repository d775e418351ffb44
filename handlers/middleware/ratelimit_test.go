package middleware_test

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/time/rate"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
	"github.com/ucwabot/ucwabot/handlers/middleware"
)

func TestRateLimit_limits_each_conversation_on_its_own(t *testing.T) {
	calls := map[string]int{}
	h := middleware.RateLimit(rate.Every(1e12), 2)(handlers.HandlerFunc(func(_ context.Context, req *handlers.Request) error {
		calls[req.Event.Conversation.ID]++
		return nil
	}))
	do := func(conv string) error {
		ev := handlerstest.Message("sip:alice@contoso.com", "hi")
		ev.Conversation.ID = conv
		req, _ := handlerstest.NewRequest(t, ev)
		return h.Handle(context.Background(), req)
	}
	for i := 0; i < 2; i++ {
		if err := do("/conv/a"); err != nil {
			t.Fatalf("call %d within the burst: %v", i, err)
		}
	}
	err := do("/conv/a")
	if !errors.Is(err, middleware.ErrRateLimited) {
		t.Fatalf("third call: err = %v, want ErrRateLimited", err)
	}
	if err := do("/conv/b"); err != nil {
		t.Fatalf("another conversation was limited: %v", err)
	}
	if calls["/conv/a"] != 2 || calls["/conv/b"] != 1 {
		t.Fatalf("calls = %v", calls)
	}
}

func TestRateLimit_forgets_idle_conversations_without_resetting_busy_ones(t *testing.T) {
	h := middleware.RateLimit(rate.Every(1e12), 1)(handlers.HandlerFunc(func(context.Context, *handlers.Request) error { return nil }))
	do := func(conv string) error {
		ev := handlerstest.Message("sip:alice@contoso.com", "hi")
		ev.Conversation.ID = conv
		req, _ := handlerstest.NewRequest(t, ev)
		return h.Handle(context.Background(), req)
	}
	for i := 0; i < 3000; i++ {
		if err := do(string(rune('a'+i%26)) + string(rune(i))); err != nil {
			t.Fatalf("first call of a new conversation limited: %v", err)
		}
	}
	if err := do("a" + string(rune(0))); !errors.Is(err, middleware.ErrRateLimited) {
		t.Fatalf("an empty bucket was forgotten: err = %v", err)
	}
}
