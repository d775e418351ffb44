package middleware

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/ucwabot/ucwabot/handlers"
)

// ErrPanic is matched (errors.Is) by every *PanicError.
var ErrPanic = errors.New("handler panicked")

// PanicError is a handler panic turned into an error. It carries the
// panic value and the stack of the panicking goroutine.
type PanicError struct {
	// Rule and Handler name the rule action whose handler panicked.
	Rule, Handler string
	// Value is what the handler passed to panic.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

// Error names the handler and the panic value.
func (e *PanicError) Error() string {
	return fmt.Sprintf("rule %q handler %q panicked: %v", e.Rule, e.Handler, e.Value)
}

// Is reports whether target is ErrPanic.
func (e *PanicError) Is(target error) bool { return target == ErrPanic }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// Recover turns a panic in the handler into a *PanicError, so that the
// worker that called it goes on with the next event.
func Recover() Middleware {
	return func(next handlers.Handler) handlers.Handler {
		return handlers.HandlerFunc(func(ctx context.Context, req *handlers.Request) (err error) {
			defer func() {
				if v := recover(); v != nil {
					err = newPanicError(req, v)
				}
			}()
			return next.Handle(ctx, req)
		})
	}
}

func newPanicError(req *handlers.Request, v any) *PanicError {
	return &PanicError{Rule: req.Rule.Name, Handler: req.Rule.Handler, Value: v, Stack: debug.Stack()}
}
