package middleware_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
	"github.com/ucwabot/ucwabot/handlers/middleware"
)

func TestRecover_turns_a_panic_into_a_PanicError_with_the_stack(t *testing.T) {
	h := middleware.Recover()(handlers.HandlerFunc(func(context.Context, *handlers.Request) error {
		panic("boom")
	}))
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "hi"))
	req.Rule.Name, req.Rule.Handler = "greet", "reply"
	err := h.Handle(context.Background(), req)
	var pe *middleware.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *PanicError", err)
	}
	if !errors.Is(err, middleware.ErrPanic) {
		t.Fatal("PanicError does not match ErrPanic")
	}
	if pe.Value != "boom" || !strings.Contains(err.Error(), `"greet"`) || !strings.Contains(err.Error(), `"reply"`) {
		t.Fatalf("error = %v (value %v)", err, pe.Value)
	}
	if !strings.Contains(string(pe.Stack), "recover_test.go") {
		t.Fatalf("stack does not show the panicking function:\n%s", pe.Stack)
	}
}

func TestRecover_unwraps_a_panicked_error_and_passes_errors_through(t *testing.T) {
	h := middleware.Recover()(handlers.HandlerFunc(func(context.Context, *handlers.Request) error {
		panic(io.ErrUnexpectedEOF)
	}))
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "hi"))
	if err := h.Handle(context.Background(), req); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want it to wrap the panicked error", err)
	}
	h = middleware.Recover()(handlers.HandlerFunc(func(context.Context, *handlers.Request) error { return io.EOF }))
	if err := h.Handle(context.Background(), req); err != io.EOF {
		t.Fatalf("err = %v, want io.EOF unchanged", err)
	}
}
