// Package builtin registers the built-in handlers of package handlers as
// plugins in plugins.Default: reply, set, unset, accept, decline,
// forward, webhook, log, leave, transcript, timer and cancel_timer. Link it in with a blank import (or
// import plugins/standard, which links every plugin of this repository).
package builtin

import (
	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/plugins"
)

func init() { RegisterAll(plugins.Default) }

// RegisterAll registers the built-in plugins in r; it panics when one of
// their names is already taken.
func RegisterAll(r *plugins.Registry) {
	r.Register("reply", plugins.Define(build(handlers.NewReply)))
	r.Register("set", plugins.Define(build(handlers.NewSet)))
	r.Register("unset", plugins.Define(build(handlers.NewUnset)))
	r.Register("accept", plugins.Define(build(handlers.NewAccept)))
	r.Register("decline", plugins.Define(build(handlers.NewDecline)))
	r.Register("forward", plugins.Define(build(handlers.NewForward)))
	r.Register("webhook", plugins.Define(build(handlers.NewWebhook)))
	r.Register("log", plugins.Define(build(handlers.NewLog)))
	r.Register("leave", plugins.Define(build(handlers.NewLeave)))
	r.Register("transcript", plugins.Define(build(handlers.NewTranscript)))
	r.Register("timer", plugins.Define(build(handlers.NewTimer)))
	r.Register("cancel_timer", plugins.Define(build(handlers.NewCancelTimer)))
}

// build adapts a constructor returning a concrete handler to Define's
// signature.
func build[C any, H handlers.Handler](newH func(C) (H, error)) func(C) (handlers.Handler, error) {
	return func(c C) (handlers.Handler, error) {
		h, err := newH(c)
		if err != nil {
			return nil, err
		}
		return h, nil
	}
}
