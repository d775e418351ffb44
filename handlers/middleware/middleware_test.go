package middleware_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
	"github.com/ucwabot/ucwabot/handlers/middleware"
)

func TestChain_first_middleware_is_outermost(t *testing.T) {
	var trace []string
	mw := func(name string) middleware.Middleware {
		return func(next handlers.Handler) handlers.Handler {
			return handlers.HandlerFunc(func(ctx context.Context, req *handlers.Request) error {
				trace = append(trace, name+">")
				err := next.Handle(ctx, req)
				trace = append(trace, "<"+name)
				return err
			})
		}
	}
	h := middleware.Chain(handlers.HandlerFunc(func(context.Context, *handlers.Request) error {
		trace = append(trace, "h")
		return nil
	}), mw("a"), mw("b"), mw("c"))
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "hi"))
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(trace, " "); got != "a> b> c> h <c <b <a" {
		t.Fatalf("order = %s", got)
	}
}

func TestChain_without_middleware_returns_the_handler(t *testing.T) {
	called := false
	h := middleware.Chain(handlers.HandlerFunc(func(context.Context, *handlers.Request) error { called = true; return nil }))
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "hi"))
	if err := h.Handle(context.Background(), req); err != nil || !called {
		t.Fatalf("err = %v, called = %v", err, called)
	}
}
