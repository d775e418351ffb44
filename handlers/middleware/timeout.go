package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/handlers"
)

// ErrTimeout is matched (errors.Is) by the error Timeout returns when the
// handler did not finish in time; the error also matches
// context.DeadlineExceeded.
var ErrTimeout = errors.New("handler timed out")

// Timeout gives the handler d to finish. The handler's ctx is cancelled
// after d; a handler that ignores its ctx is abandoned: Timeout returns
// ErrTimeout at once and the handler finishes on its own goroutine, on a
// copy of the state whose changes are then dropped. A handler that
// finishes in time has its state changes applied as usual. A panic on the
// handler's goroutine becomes a *PanicError.
func Timeout(d time.Duration) Middleware {
	return func(next handlers.Handler) handlers.Handler {
		return handlers.HandlerFunc(func(ctx context.Context, req *handlers.Request) error {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			own := *req
			own.State = cloneState(req.State)
			done := make(chan error, 1)
			go func() {
				defer func() {
					if v := recover(); v != nil {
						done <- newPanicError(&own, v)
					}
				}()
				done <- next.Handle(ctx, &own)
			}()
			select {
			case err := <-done:
				if merr := mergeState(req.State, own.State); merr != nil {
					return errors.Join(err, merr)
				}
				if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return fmt.Errorf("%w after %s: %w", ErrTimeout, d, err)
				}
				return err
			case <-ctx.Done():
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return fmt.Errorf("%w after %s (handler abandoned): %w", ErrTimeout, d, ctx.Err())
				}
				return ctx.Err()
			}
		})
	}
}

// cloneState copies s so that an abandoned handler never touches the
// state the engine writes back.
func cloneState(s *event.State) *event.State {
	if s == nil {
		return nil
	}
	fields := make(map[string]json.RawMessage, len(s.Names()))
	for _, n := range s.Names() {
		fields[n] = append(json.RawMessage(nil), s.Raw(n)...)
	}
	return event.NewState(fields)
}

// mergeState applies the changes made to the copy to the original.
func mergeState(dst, src *event.State) error {
	if dst == nil || src == nil {
		return nil
	}
	set, deleted := src.Changes()
	for _, n := range deleted {
		dst.Delete(n)
	}
	for n, raw := range set {
		if err := dst.Set(n, raw); err != nil {
			return err
		}
	}
	return nil
}
