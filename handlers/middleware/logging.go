package middleware

import (
	"context"
	"time"

	"github.com/ucwabot/ucwabot/handlers"
)

// Logging logs every call on the request's logger (already scoped to
// account, conversation, rule and handler): at debug level when the
// handler succeeds, at warning level with the error when it fails; both
// with the call's duration.
func Logging() Middleware {
	return func(next handlers.Handler) handlers.Handler {
		return handlers.HandlerFunc(func(ctx context.Context, req *handlers.Request) error {
			start := time.Now()
			err := next.Handle(ctx, req)
			if req.Log == nil {
				return err
			}
			log := req.Log.WithField("duration", time.Since(start).Round(time.Microsecond).String())
			if err != nil {
				log.WithError(err).Warn("handler failed")
			} else {
				log.Debug("handler done")
			}
			return err
		})
	}
}
