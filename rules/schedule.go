package rules

import (
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/ucwabot/ucwabot/bot/event"
)

// Schedules. A rule with `every: 1h` or `cron: "0 9 * * 1-5"` (five
// fields: minute, hour, day of month, month, day of week, in the files'
// timezone) fires at those times, as a schedule.fired event outside any
// conversation whose timer.name is the rule's name. Its `when`, if any,
// must hold too. The engine fires each occurrence once, on the instance
// that drives the account; occurrences missed while no instance ran fire
// once, as the latest of them.

// Schedule says when a scheduled rule fires.
type Schedule interface {
	// Next returns the first occurrence after t.
	Next(t time.Time) time.Time
}

// every fires at the multiples of d since the Unix epoch.
type every time.Duration

func (e every) Next(t time.Time) time.Time {
	d := time.Duration(e)
	since := t.Sub(epoch)
	return epoch.Add(since - since%d + d)
}

var epoch = time.Unix(0, 0)

// inZone evaluates a cron schedule in the rules' time zone.
type inZone struct {
	s   cron.Schedule
	loc func() *time.Location
}

func (z inZone) Next(t time.Time) time.Time { return z.s.Next(t.In(z.loc())) }

// schedule reads a rule's `every:` or `cron:`.
func (l *loader) schedule(file string, r *Rule, key string, v *yaml.Node) {
	if r.Schedule != nil {
		l.errorf(at(file, v), r.Name, key, "a rule has one of every and cron")
		return
	}
	switch key {
	case "every":
		d, err := time.ParseDuration(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil || d < time.Second {
			l.errorf(at(file, v), r.Name, "every", "want a duration of at least 1s such as 15m or 24h, got %q", v.Value)
			return
		}
		r.Schedule = every(d)
	case "cron":
		s, err := cron.ParseStandard(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil || strings.HasPrefix(strings.TrimSpace(v.Value), "TZ=") || strings.HasPrefix(strings.TrimSpace(v.Value), "CRON_TZ=") {
			msg := "want five fields: minute hour day-of-month month day-of-week, such as \"0 9 * * 1-5\" (the files' timezone applies)"
			if err != nil {
				msg += ": " + err.Error()
			}
			l.errorf(at(file, v), r.Name, "cron", "%s", msg)
			return
		}
		r.Schedule = inZone{s: s, loc: l.location}
	}
	r.On = []event.Kind{event.ScheduleFired}
}

// location is the files' time zone, as the loaded set will have it.
func (l *loader) location() *time.Location {
	if l.opts.Location != nil {
		return l.opts.Location
	}
	if l.tz != "" {
		if loc, err := time.LoadLocation(l.tz); err == nil {
			return loc
		}
	}
	return time.Local
}

// Scheduled returns the enabled rules with a schedule.
func (s *Set) Scheduled() []*Rule {
	var out []*Rule
	for _, r := range s.all {
		if r.Schedule != nil && r.Enabled {
			out = append(out, r)
		}
	}
	return out
}
