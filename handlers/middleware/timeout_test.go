package middleware_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
	"github.com/ucwabot/ucwabot/handlers/middleware"
)

func TestTimeout_cancels_a_slow_handler_that_watches_its_ctx(t *testing.T) {
	h := middleware.Timeout(20 * time.Millisecond)(handlers.HandlerFunc(func(ctx context.Context, _ *handlers.Request) error {
		<-ctx.Done()
		return ctx.Err()
	}))
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "hi"))
	err := h.Handle(context.Background(), req)
	if !errors.Is(err, middleware.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout and DeadlineExceeded", err)
	}
}

func TestTimeout_abandons_a_handler_that_ignores_its_ctx_and_drops_its_state_changes(t *testing.T) {
	release := make(chan struct{})
	finished := make(chan struct{})
	h := middleware.Timeout(20 * time.Millisecond)(handlers.HandlerFunc(func(_ context.Context, req *handlers.Request) error {
		defer close(finished)
		<-release
		return req.State.Set("late", true)
	}))
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "hi"))
	err := h.Handle(context.Background(), req)
	if !errors.Is(err, middleware.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	close(release)
	<-finished
	if ok, _ := req.State.Get("late", new(bool)); ok || req.State.Changed() {
		t.Fatal("an abandoned handler changed the request's state")
	}
}

func TestTimeout_keeps_state_changes_of_a_handler_that_finishes(t *testing.T) {
	h := middleware.Timeout(time.Second)(handlers.HandlerFunc(func(_ context.Context, req *handlers.Request) error {
		req.State.Delete("old")
		return req.State.Set("step", 2)
	}))
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "hi"))
	if err := req.State.Set("old", "x"); err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	var step int
	if ok, err := req.State.Get("step", &step); !ok || err != nil || step != 2 {
		t.Fatalf("step = %d, %v, %v", step, ok, err)
	}
	if ok, _ := req.State.Get("old", new(string)); ok {
		t.Fatal("delete was not applied")
	}
}

func TestTimeout_recovers_a_panic_on_the_handler_goroutine(t *testing.T) {
	h := middleware.Timeout(time.Second)(handlers.HandlerFunc(func(context.Context, *handlers.Request) error {
		panic("boom")
	}))
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "hi"))
	if err := h.Handle(context.Background(), req); !errors.Is(err, middleware.ErrPanic) {
		t.Fatalf("err = %v, want a PanicError", err)
	}
}

func TestTimeout_passes_a_parent_cancellation_through(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := middleware.Timeout(time.Second)(handlers.HandlerFunc(func(ctx context.Context, _ *handlers.Request) error {
		<-ctx.Done()
		return ctx.Err()
	}))
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "hi"))
	err := h.Handle(ctx, req)
	if !errors.Is(err, context.Canceled) || errors.Is(err, middleware.ErrTimeout) {
		t.Fatalf("err = %v, want context.Canceled only", err)
	}
}
