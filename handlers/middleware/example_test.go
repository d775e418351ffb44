package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
	"github.com/ucwabot/ucwabot/handlers/middleware"
)

// A handler wrapped in the usual order: a panic becomes an error, the
// call has a deadline, outcomes are logged, and each conversation gets at
// most one call per second with bursts of two.
func ExampleChain() {
	h := middleware.Chain(
		handlers.HandlerFunc(func(ctx context.Context, req *handlers.Request) error {
			if req.Event.Message.Text == "boom" {
				panic("unexpected input")
			}
			return req.Reply.Say(ctx, "ok")
		}),
		middleware.Recover(),
		middleware.Timeout(5*time.Second),
		middleware.Logging(),
		middleware.RateLimit(rate.Every(time.Second), 2),
	)
	for _, text := range []string{"hi", "boom", "again"} {
		req := &handlers.Request{
			Event: handlerstest.Message("sip:alice@contoso.com", text),
			State: event.NewState(nil),
			Reply: handlerstest.NewRecorder(),
		}
		err := h.Handle(context.Background(), req)
		fmt.Printf("%s: panic=%v limited=%v\n", text, errors.Is(err, middleware.ErrPanic), errors.Is(err, middleware.ErrRateLimited))
	}
	// Output:
	// hi: panic=false limited=false
	// boom: panic=true limited=false
	// again: panic=false limited=true
}
