// Package middleware wraps handlers with behaviour every plugin wants:
// panic recovery, a timeout, logging and a per-conversation rate limit.
//
// A Middleware is a func(handlers.Handler) handlers.Handler. Chain applies
// several; the first one given is the outermost. The order that suits a
// bot is
//
//	middleware.Chain(h,
//		middleware.Recover(),              // outermost: nothing below can crash the worker
//		middleware.Timeout(10*time.Second), // a slow handler gives its worker back
//		middleware.Logging(),               // logs outcome and duration of each call
//		middleware.RateLimit(1, 5),         // innermost: only calls that would run are counted
//	)
package middleware

import "github.com/ucwabot/ucwabot/handlers"

// Middleware wraps a handler with extra behaviour.
type Middleware func(handlers.Handler) handlers.Handler

// Chain wraps h with mws; the first middleware is the outermost, so it
// sees the call first and the result last.
func Chain(h handlers.Handler, mws ...Middleware) handlers.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}
