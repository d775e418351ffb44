package bot

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/ucwa"
)

// keepAlive keeps the bot available and its presence subscriptions alive
// until ctx ends: reportMyActivity on a jittered schedule well inside the
// server's 4 minutes, makeMeAvailable again when the bot's own presence
// drifts, and subscriptions extended on the server's warning and by a
// timer before they expire, recreated after a 404.
func (a *account) keepAlive(ctx context.Context) {
	// Reports are scheduled from the start of the previous one, and one
	// report (its retries included) ends before the next is due, so that
	// two reports are never more than ActivityInterval×1.1 apart however
	// slow or faulty the server is.
	interval := a.e.cfg.ActivityInterval
	started := time.Now()
	activity := time.NewTimer(time.Until(started.Add(jitter(interval, activityJitter))))
	defer activity.Stop()
	subTimer := time.NewTimer(time.Hour)
	defer subTimer.Stop()
	select { // establish asked for subscriptions; this first round makes them
	case <-a.resub:
	default:
	}
	a.reportActivity(ctx, started)
	a.keepSubscriptions(ctx, subTimer)
	for {
		select {
		case <-ctx.Done():
			return
		case <-activity.C:
			started = time.Now()
			activity.Reset(time.Until(started.Add(jitter(interval, activityJitter))))
			a.reportActivity(ctx, started)
		case <-subTimer.C:
			a.keepSubscriptions(ctx, subTimer)
		case <-a.extend:
			a.keepSubscriptions(ctx, subTimer)
		case <-a.resub:
			a.mu.Lock()
			a.sub = nil
			a.mu.Unlock()
			a.keepSubscriptions(ctx, subTimer)
		}
	}
}

// reportActivity reports activity and checks the bot's own presence. It
// returns by the time the report after it is due (started plus the
// interval with its largest jitter): retries of a failing report are
// bounded by that time, not by a number of attempts.
func (a *account) reportActivity(ctx context.Context, started time.Time) {
	app, _ := a.currentApp()
	if app == nil {
		return
	}
	due := started.Add(time.Duration(float64(a.e.cfg.ActivityInterval) * (1 + activityJitter)))
	parent := ctx
	ctx, cancel := context.WithDeadline(ctx, due)
	defer cancel()
	err := a.callBy(ctx, due, "reportMyActivity", func() error {
		app, _ := a.currentApp()
		return a.client.ReportMyActivity(ctx, app)
	})
	if err != nil {
		if parent.Err() == nil {
			a.log.WithError(err).Warn("reportMyActivity")
		}
		return
	}
	a.mu.Lock()
	a.lastActivity = time.Now()
	a.mu.Unlock()
	a.e.met.lastActivity.WithLabelValues(a.addr).SetToCurrentTime()
	a.log.WithField("step", "activity_reported").Trace("reportMyActivity")

	var avail string
	err = a.call(ctx, "presence", func() error {
		app, _ := a.currentApp()
		var err error
		avail, err = a.client.MyPresence(ctx, app)
		return err
	})
	if err != nil {
		return
	}
	a.mu.Lock()
	a.presence = avail
	a.mu.Unlock()
	a.e.met.setPresence(a.addr, avail)
	if drifted(avail) {
		a.e.met.reconnects.WithLabelValues(a.addr, "presence_drift").Inc()
		a.log.WithField("availability", avail).Warn("own presence drifted; makeMeAvailable again")
		if err := a.makeAvailable(ctx); err != nil {
			a.log.WithError(err).Warn("makeMeAvailable")
			return
		}
		// makeMeAvailable restores an availability lost to inactivity; one
		// set explicitly (another endpoint, an operator) stays until it is
		// set back.
		var now string
		if err := a.call(ctx, "presence", func() error {
			app, _ := a.currentApp()
			var err error
			now, err = a.client.MyPresence(ctx, app)
			return err
		}); err != nil {
			return
		}
		if drifted(now) {
			a.log.WithField("availability", now).Warn("own presence still drifted after makeMeAvailable; setting it Online")
			if err := a.call(ctx, "set presence", func() error {
				app, _ := a.currentApp()
				return a.client.SetMyPresence(ctx, app, "Online")
			}); err != nil {
				a.log.WithError(err).Warn("set own presence Online")
				return
			}
			now = "Online"
		}
		a.mu.Lock()
		a.presence = now
		a.mu.Unlock()
		a.e.met.setPresence(a.addr, now)
	}
}

// drifted reports whether the bot's own availability is one the engine
// repairs.
func drifted(avail string) bool {
	switch avail {
	case "Away", "Offline", "BeRightBack", "":
		return true
	}
	return false
}

// subscriptionTargets are the contacts to watch: configuration, rules and
// handlers' requests, normalised and deduplicated.
func (a *account) subscriptionTargets() []string {
	var out []string
	add := func(u string) {
		u = normalizeAddress(u)
		if u != "" && !slices.ContainsFunc(out, func(x string) bool { return strings.EqualFold(x, u) }) {
			out = append(out, u)
		}
	}
	for _, u := range a.cfg.Subscribe {
		add(u)
	}
	if set := a.e.rules.Current(); set != nil {
		for _, u := range set.Subscriptions() {
			add(u)
		}
	}
	a.mu.Lock()
	for _, u := range a.extra {
		add(u)
	}
	a.mu.Unlock()
	return out
}

// keepSubscriptions creates, extends, widens or recreates the presence
// subscription and sets t to fire before it expires.
func (a *account) keepSubscriptions(ctx context.Context, t *time.Timer) {
	targets := a.subscriptionTargets()
	d := a.e.cfg.SubscriptionDuration
	// Extend well before the end: at 60% of the duration in server time.
	next := time.Duration(float64(d) * 0.6 / a.e.timeScale())
	defer t.Reset(next)
	if len(targets) == 0 {
		return
	}
	app, _ := a.currentApp()
	if app == nil {
		return
	}
	a.mu.Lock()
	sub := a.sub
	have := append([]string(nil), a.subURIs...)
	a.mu.Unlock()

	if sub != nil {
		err := a.call(ctx, "extend subscription", func() error { return a.client.ExtendSubscription(ctx, sub, d) })
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, ucwa.ErrSubscriptionGone) || statusOf(err) == 404 {
				a.e.met.reconnects.WithLabelValues(a.addr, "subscription_gone").Inc()
				a.log.WithError(err).Warn("presence subscription gone; subscribing again")
			} else {
				a.log.WithError(err).Warn("extend presence subscription; subscribing again")
			}
			sub = nil
		} else {
			var missing []string
			for _, u := range targets {
				if !slices.ContainsFunc(have, func(x string) bool { return strings.EqualFold(x, u) }) {
					missing = append(missing, u)
				}
			}
			if len(missing) > 0 {
				if err := a.call(ctx, "add subscription members", func() error { return a.client.AddMembers(ctx, sub, missing) }); err != nil {
					a.log.WithError(err).Warn("add presence subscription members")
				} else {
					have = append(have, missing...)
				}
			}
			a.setSubscription(sub, have)
			a.log.WithFields(logrus.Fields{"step": "subscription_extended", "contacts": len(have), "duration": d.String()}).Debug("presence subscription extended")
			return
		}
	}
	var s *ucwa.Subscription
	err := a.call(ctx, "subscribe", func() error {
		app, _ := a.currentApp()
		var err error
		s, err = a.client.Subscribe(ctx, app, targets, d)
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			a.log.WithError(err).Warn("presence subscription")
			next = a.e.cfg.BackoffMax
		}
		a.setSubscription(nil, nil)
		return
	}
	a.log.WithFields(logrus.Fields{"step": "subscription_created", "contacts": len(targets), "duration": d.String()}).Info("presence subscription created")
	a.setSubscription(s, targets)
}

func (a *account) setSubscription(s *ucwa.Subscription, uris []string) {
	a.mu.Lock()
	a.sub, a.subURIs = s, uris
	a.mu.Unlock()
	if s != nil {
		a.e.met.subscriptionExpiry.WithLabelValues(a.addr).Set(float64(time.Now().Add(time.Duration(float64(s.Duration) / a.e.timeScale())).Unix()))
	}
}

// maxWatched bounds the contacts handlers can add to the presence
// subscription, so a handler that subscribes to everyone who writes does
// not grow the subscription without end.
const maxWatched = 1000

// watch adds a contact to the presence subscription (Responder.Subscribe).
// Past maxWatched contacts, the one added first is dropped.
func (a *account) watch(uri string) {
	uri = normalizeAddress(uri)
	a.mu.Lock()
	var dropped string
	if !slices.Contains(a.extra, uri) {
		if len(a.extra) >= maxWatched {
			dropped, a.extra = a.extra[0], a.extra[1:]
		}
		a.extra = append(a.extra, uri)
	}
	a.mu.Unlock()
	if dropped != "" {
		a.log.WithFields(logrus.Fields{"added": uri, "dropped": dropped, "max": maxWatched}).Warn("too many watched contacts; dropping the oldest")
	}
	signal(a.extend)
}
