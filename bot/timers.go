package bot

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/store"
)

// Timers: a rule step (the timer plugin, or a handler through
// Request.Timers) sets a named timer in its conversation; when it comes
// due the lease holder appends a timer.fired event to the inbox and drops
// the timer. The timer lives in the store (store.Timers), so it survives
// restarts and takeovers. Its event id derives from the timer and its due
// time, and the inbox skips an event it holds or handled: a crash between
// the append and the drop fires it once all the same. Setting a timer
// again restarts it; cancel stops it.

// timerPeriod is how often the holder looks for due timers.
const timerPeriod = time.Second

// timerID names a conversation's timer in its account.
func timerID(conv, name string) string { return conv + "|" + name }

// convTimers are the timers of ev's conversation (handlers.Timers).
type convTimers struct {
	a   *account
	ev  *event.Event
	off *atomic.Bool // set when the engine abandoned the handler
}

var _ handlers.Timers = convTimers{}

func (c convTimers) Set(ctx context.Context, name string, after time.Duration) error {
	if c.off != nil && c.off.Load() {
		return ErrHandlerAbandoned
	}
	return c.set(ctx, event.TimerFired, name, after)
}

// idleTimer is the name of the timer behind conversation.idle.
const idleTimer = "_idle"

// set starts the timer name, which fires an event of kind.
func (c convTimers) set(ctx context.Context, kind event.Kind, name string, after time.Duration) error {
	if name == "" || after <= 0 {
		return errors.New("timer: a name and a positive duration are needed")
	}
	due := time.Now().Add(after).Truncate(time.Millisecond)
	conv := c.ev.Conversation.ID
	ev := event.Event{
		ID:           eventID(c.a.addr, string(kind), conv, name, strconv.FormatInt(due.UnixMilli(), 10)),
		Kind:         kind,
		Account:      c.a.addr,
		Conversation: c.ev.Conversation,
		Participant:  c.ev.Participant,
		Timer:        event.Timer{Name: name},
	}
	payload, err := encodeEntry(&envelope{Event: ev})
	if err != nil {
		return err
	}
	return c.a.e.store.SetTimer(ctx, c.a.addr, c.a.fence(), store.Timer{
		ID: timerID(conv, name), Due: due,
		Entry: store.Entry{EventID: ev.ID, Conversation: conv, Payload: payload},
	})
}

func (c convTimers) Cancel(ctx context.Context, name string) error {
	if c.off != nil && c.off.Load() {
		return ErrHandlerAbandoned
	}
	return c.a.e.store.CancelTimer(ctx, c.a.addr, c.a.fence(), timerID(c.ev.Conversation.ID, name))
}

// idle restarts the conversation's idle timer on a person's message
// (Config.IdleAfter); endTimers stops it with the others when the
// conversation ends.
func (a *account) idle(ctx context.Context, ev *event.Event) error {
	after := a.e.cfg.IdleAfter
	if after <= 0 || ev.Conversation.ID == "" || a.e.cfg.Shadow {
		return nil
	}
	c := convTimers{a: a, ev: ev}
	switch ev.Kind {
	case event.MessageReceived:
		if ev.Message.Direction == "Outgoing" {
			return nil
		}
		return c.set(ctx, event.ConversationIdle, idleTimer, after)
	}
	return nil
}

// endTimers cancels every timer of a conversation that ended: a timer
// belongs to its conversation.
func (a *account) endTimers(ctx context.Context, ev *event.Event) error {
	if ev.Kind != event.ConversationEnded || ev.Conversation.ID == "" || a.e.cfg.Shadow {
		return nil
	}
	return a.e.store.CancelTimers(ctx, a.addr, a.fence(), timerID(ev.Conversation.ID, ""))
}

// timersFor returns the timers of ev's conversation, nil outside one.
func (a *account) timersFor(ev *event.Event, off *atomic.Bool) handlers.Timers {
	if ev.Conversation.ID == "" {
		return nil
	}
	return convTimers{a: a, ev: ev, off: off}
}

// fireTimers appends the due timers' and schedules' events to the inbox
// every timerPeriod until ctx ends (the lease tenure).
func (a *account) fireTimers(ctx context.Context) {
	for sleep(ctx, timerPeriod) {
		a.fireSchedules(ctx, time.Now())
		due, err := a.e.store.DueTimers(ctx, a.addr, time.Now(), 64)
		if err != nil || len(due) == 0 {
			continue
		}
		entries := make([]store.Entry, len(due))
		for i, t := range due {
			entries[i] = t.Entry
		}
		fence := a.fence()
		if _, err := a.e.store.AppendBatch(ctx, a.addr, fence, store.Batch{Entries: entries}); err != nil {
			a.log.WithError(err).Warn("due timers not queued; trying again")
			continue
		}
		for _, t := range due {
			if err := a.e.store.DropTimer(ctx, a.addr, fence, t.ID, t.Due); err != nil {
				a.log.WithError(err).WithField("timer", t.ID).Warn("drop a fired timer")
			}
		}
		a.log.WithField("timers", len(due)).Debug("timers fired")
	}
}

func scheduleKey(rule string) string { return "schedule:" + rule }

// fireSchedules fires the scheduled rules whose next occurrence after the
// last one fired has come: one schedule.fired event each, the latest
// occurrence when several were missed. The last occurrence fired is kept
// in the store (Values "schedule:<rule>"), so a restart or a takeover
// neither repeats nor loses one; a rule seen for the first time starts
// from now. The event id derives from the rule and the occurrence, so an
// occurrence appended twice is one event.
func (a *account) fireSchedules(ctx context.Context, now time.Time) {
	set := a.e.rules.Current()
	if set == nil {
		return
	}
	for _, r := range set.Scheduled() {
		var last time.Time
		b, err := a.e.store.GetValue(ctx, a.addr, scheduleKey(r.Name))
		switch {
		case errors.Is(err, store.ErrNotFound):
			last = now
			a.saveScheduled(ctx, r.Name, now)
			continue
		case err != nil:
			continue
		}
		if err := last.UnmarshalText(b); err != nil {
			last = now
		}
		at := r.Schedule.Next(last)
		if at.After(now) {
			continue
		}
		for n := r.Schedule.Next(at); !n.After(now); n = r.Schedule.Next(n) {
			at = n // missed occurrences fire once, as the latest
		}
		ev := event.Event{
			ID:   eventID(a.addr, string(event.ScheduleFired), r.Name, strconv.FormatInt(at.UnixMilli(), 10)),
			Kind: event.ScheduleFired, Account: a.addr, Time: at, Timer: event.Timer{Name: r.Name},
		}
		payload, err := encodeEntry(&envelope{Event: ev})
		if err != nil {
			continue
		}
		if _, err := a.e.store.AppendBatch(ctx, a.addr, a.fence(), store.Batch{Entries: []store.Entry{{EventID: ev.ID, Payload: payload}}}); err != nil {
			a.log.WithError(err).WithField("rule", r.Name).Warn("scheduled rule not queued; trying again")
			continue
		}
		a.saveScheduled(ctx, r.Name, at)
	}
}

// scheduleTTL keeps the last occurrence of a rule that was removed from
// the files for a while, then forgets it.
const scheduleTTL = 30 * 24 * time.Hour

func (a *account) saveScheduled(ctx context.Context, rule string, at time.Time) {
	b, _ := at.MarshalText()
	if err := a.e.store.SetValue(ctx, a.addr, a.fence(), scheduleKey(rule), b, scheduleTTL); err != nil {
		a.log.WithError(err).WithField("rule", rule).Warn("last occurrence of a scheduled rule not stored")
	}
}
