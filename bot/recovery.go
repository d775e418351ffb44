package bot

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/ucwa"
)

// newBackoff returns the engine's exponential backoff with jitter, capped
// at BackoffMax and never giving up by itself.
func (e *Engine) newBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = e.cfg.BackoffInitial
	if b.InitialInterval > e.cfg.BackoffMax {
		b.InitialInterval = e.cfg.BackoffMax
	}
	b.RandomizationFactor = e.cfg.BackoffJitter
	b.Multiplier = e.cfg.BackoffMultiplier
	b.MaxInterval = e.cfg.BackoffMax
	b.MaxElapsedTime = 0
	b.Reset()
	return b
}

// retryAfter returns the server's Retry-After of a throttled answer, or 0.
func retryAfter(err error) time.Duration {
	var ue *ucwa.Error
	if errors.As(err, &ue) {
		return ue.RetryAfter
	}
	return 0
}

// statusOf returns the HTTP status of a UCWA error, or 0.
func statusOf(err error) int {
	var ue *ucwa.Error
	if errors.As(err, &ue) {
		return ue.Status
	}
	return 0
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// jitter returns d changed by a random fraction within ±f.
func jitter(d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * (1 + f*(2*rand.Float64()-1)))
}

// causeOf names an error's recovery for logs and the reconnects metric.
func causeOf(err error) string {
	if c := refusal(err); c != "" {
		return c
	}
	switch {
	case errors.Is(err, ucwa.ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, ucwa.ErrApplicationGone):
		return "application_gone"
	case errors.Is(err, ucwa.ErrMakeMeAvailableRequired):
		return "make_me_available_required"
	case errors.Is(err, ucwa.ErrPGetReplaced):
		return "pget_replaced"
	case errors.Is(err, ucwa.ErrThrottled):
		return "throttled"
	case ucwa.IsTransient(err):
		return "transient"
	}
	return "other"
}

// refusal names an answer that PROTOCOL.md says not to retry at backoff
// speed (§2.2, §4.3, §13.9), or returns "": credentials refused (400
// invalid_grant; retrying fast locks the account out of Active Directory),
// 410 TooManyApplications or UserAgentNotAllowed, and any other 4xx but
// 401, 403 (re-authentication and rediscovery), 404 and 409 (recoveries of
// their own), 408 and 429 (transient).
func refusal(err error) string {
	if errors.Is(err, ucwa.ErrInvalidGrant) {
		return "credentials"
	}
	var ue *ucwa.Error
	if !errors.As(err, &ue) || errors.Is(err, ucwa.ErrApplicationGone) {
		return ""
	}
	switch {
	case ue.Status == 410 && strings.EqualFold(ue.Subcode, "TooManyApplications"):
		return "too_many_applications"
	case ue.Status == 410 && strings.EqualFold(ue.Subcode, "UserAgentNotAllowed"):
		return "user_agent_not_allowed"
	case ue.Status >= 400 && ue.Status < 500:
		switch ue.Status {
		case 401, 403, 404, 408, 409, 429:
			return ""
		}
		return "refused"
	}
	return ""
}

// refusedTries is how many times an answer of the generic refused class
// (a 4xx PROTOCOL.md says not to retry, but not credentials or an
// application limit) is tried at backoff speed before the slow retry.
const refusedTries = 3

// wait sleeps before the next attempt after err: the server's Retry-After
// when it gave one, else the next backoff step.
func (a *account) wait(ctx context.Context, b *backoff.ExponentialBackOff, err error) bool {
	d := retryAfter(err)
	if d <= 0 {
		d = b.NextBackOff()
	}
	return sleep(ctx, d)
}

// retry runs fn until it succeeds or ctx ends, recovering between
// attempts as the error asks, with backoff. An answer that must not be
// retried fast (refusal) raises an alarm, makes the account not ready
// with the cause, and is retried only every SlowRetry.
func (a *account) retry(ctx context.Context, op string, fn func() error) error {
	b := a.e.newBackoff()
	defer a.setBlocked("")
	refused := 0
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, store.ErrFenced) || errors.Is(err, errLeaseLost) {
			return err
		}
		cause := causeOf(err)
		a.e.met.reconnects.WithLabelValues(a.addr, cause).Inc()
		log := a.log.WithError(err).WithFields(logrus.Fields{"op": op, "cause": cause})
		var ue *ucwa.Error
		if errors.As(err, &ue) {
			log = log.WithFields(logrus.Fields{"status": ue.Status, "code": ue.Code, "subcode": ue.Subcode})
		}
		why := refusal(err)
		if why == "refused" {
			// Another 4xx may be a passing fault of a front: a few tries at
			// backoff speed before the alarm. Credentials and the
			// application limits never get them.
			if refused++; refused < refusedTries {
				log.Warn("refused; trying again before raising the alarm")
				if !a.wait(ctx, b, err) {
					return ctx.Err()
				}
				continue
			}
		}
		if why != "" {
			slow := jitter(a.e.cfg.SlowRetry, 0.1)
			a.e.met.alarms.WithLabelValues(a.addr, why).Inc()
			a.setBlocked(fmt.Sprintf("%s refused (cause=%s: %v); next attempt in %s", op, cause, err, slow.Round(time.Second)))
			log.WithField("retry_in", slow.String()).Error("ALARM: the server refuses the account; retrying only slowly")
			if !sleep(ctx, slow) {
				return ctx.Err()
			}
			continue
		}
		log.Warn("retrying")
		if !a.wait(ctx, b, err) {
			return ctx.Err()
		}
	}
}

// setBlocked records why connecting waits at SlowRetry speed ("" clears it).
func (a *account) setBlocked(why string) {
	a.mu.Lock()
	a.blocked = why
	a.mu.Unlock()
}

// call runs one UCWA operation of the running application and applies
// the recoveries that keep the application: a new token on 401,
// makeMeAvailable on 409 MakeMeAvailableRequired, waiting on throttling
// and transient errors. An application that is gone is left to the
// session (the poller recreates it); its error is returned.
func (a *account) call(ctx context.Context, op string, fn func() error) error {
	return a.callLoop(ctx, op, fn, time.Time{})
}

// callBy is call with a deadline instead of a number of attempts: it
// tries until fn succeeds or the deadline passes, and never waits past
// it, shortening the backoff and the server's Retry-After so that more
// attempts fit before it.
func (a *account) callBy(ctx context.Context, deadline time.Time, op string, fn func() error) error {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	return a.callLoop(ctx, op, fn, deadline)
}

func (a *account) callLoop(ctx context.Context, op string, fn func() error, deadline time.Time) error {
	var b *backoff.ExponentialBackOff // made at the first failure: most calls have none
	const attempts = 6
	wait := func(err error) bool {
		if b == nil {
			b = a.e.newBackoff()
		}
		if deadline.IsZero() {
			return a.wait(ctx, b, err)
		}
		d := retryAfter(err)
		if d <= 0 {
			d = b.NextBackOff()
		}
		// At most an eighth of what is left, so that several more
		// attempts still fit before the deadline.
		if left := time.Until(deadline) / 8; d > left {
			d = left
		}
		return sleep(ctx, d)
	}
	var err error
	for i := 0; deadline.IsZero() && i < attempts || !deadline.IsZero() && time.Now().Before(deadline); i++ {
		err = fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		cause := causeOf(err)
		log := a.log.WithError(err).WithField("op", op).WithField("cause", cause)
		switch {
		case errors.Is(err, ucwa.ErrUnauthorized):
			a.e.met.reconnects.WithLabelValues(a.addr, cause).Inc()
			log.Warn("token refused; signing in again")
			if serr := a.client.SignIn(ctx); serr != nil {
				log.WithError(serr).Warn("sign in")
				if !wait(serr) {
					return err
				}
			}
		case errors.Is(err, ucwa.ErrMakeMeAvailableRequired):
			a.e.met.reconnects.WithLabelValues(a.addr, cause).Inc()
			log.Warn("server asks for makeMeAvailable")
			if merr := a.makeAvailable(ctx); merr != nil {
				log.WithError(merr).Warn("makeMeAvailable")
				if !wait(merr) {
					return err
				}
			}
		case errors.Is(err, ucwa.ErrThrottled), ucwa.IsTransient(err):
			a.e.met.reconnects.WithLabelValues(a.addr, cause).Inc()
			log.Warn("retrying after backoff")
			if !wait(err) {
				return err
			}
		default:
			return err
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}
