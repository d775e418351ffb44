package middleware

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ucwabot/ucwabot/handlers"
)

// ErrRateLimited is returned when a conversation called the handler more
// often than its rate limit allows; the handler did not run.
var ErrRateLimited = errors.New("handler rate limited")

// maxIdleLimiters is how many conversation limiters RateLimit keeps before
// it forgets the ones that are full again.
const maxIdleLimiters = 1024

// RateLimit lets each conversation call the handler at most limit times
// per second on average, with bursts of up to burst calls. A call over the
// limit does not run the handler and returns an error matching
// ErrRateLimited, so that a flood of messages cannot make the bot flood a
// conversation (and get throttled by the server). Events outside a
// conversation share one limiter.
func RateLimit(limit rate.Limit, burst int) Middleware {
	l := &limiters{limit: limit, burst: burst, m: map[string]*rate.Limiter{}}
	return func(next handlers.Handler) handlers.Handler {
		return handlers.HandlerFunc(func(ctx context.Context, req *handlers.Request) error {
			conv := ""
			if req.Event != nil {
				conv = req.Event.ConversationID()
			}
			if !l.get(conv).Allow() {
				return fmt.Errorf("%w: conversation %q above %g calls/s (burst %d)", ErrRateLimited, conv, float64(limit), burst)
			}
			return next.Handle(ctx, req)
		})
	}
}

type limiters struct {
	limit rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*rate.Limiter
}

func (l *limiters) get(conv string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lim, ok := l.m[conv]; ok {
		return lim
	}
	if len(l.m) >= maxIdleLimiters {
		now := time.Now()
		for k, lim := range l.m {
			// A full bucket behaves like a new one: forgetting it changes nothing.
			if lim.TokensAt(now) >= float64(l.burst) {
				delete(l.m, k)
			}
		}
	}
	lim := rate.NewLimiter(l.limit, l.burst)
	l.m[conv] = lim
	return lim
}
