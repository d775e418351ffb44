package rules_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/rules"
)

func TestSchedule_cron_runs_in_the_files_timezone_and_every_on_its_multiples(t *testing.T) {
	s := loadText(t, rules.Options{}, `version: 1
timezone: Europe/Berlin
rules:
  - name: morning
    cron: "0 9 * * 1-5"
    do: [leave]
  - name: quarter
    every: 15m
    do: [leave]
  - name: echo
    on: message.received
    do: [leave]
`)
	var names []string
	for _, r := range s.Scheduled() {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"morning", "quarter"}) {
		t.Fatalf("scheduled rules %v", names)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	// Friday 2026-12-04 10:00 in Berlin: the next 09:00 on a weekday is Monday.
	from := time.Date(2026, 12, 4, 10, 0, 0, 0, berlin)
	if got, want := s.Scheduled()[0].Schedule.Next(from.UTC()), time.Date(2026, 12, 7, 9, 0, 0, 0, berlin); !got.Equal(want) {
		t.Errorf("morning after %v: %v, want %v", from, got, want)
	}
	if got, want := s.Scheduled()[1].Schedule.Next(time.Date(2026, 12, 4, 10, 7, 3, 0, time.UTC)), time.Date(2026, 12, 4, 10, 15, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("quarter: %v, want %v", got, want)
	}
	// A schedule.fired event is for its rule only; messages reach the others.
	fire := func(ev *event.Event) []string {
		ms, err := s.Eval(context.Background(), &rules.Input{Event: ev}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return fired(ms)
	}
	if got := fire(&event.Event{Kind: event.ScheduleFired, Timer: event.Timer{Name: "quarter"}}); !slices.Equal(got, []string{"quarter"}) {
		t.Errorf("schedule.fired for quarter fired %v", got)
	}
	if got := fire(&event.Event{Kind: event.MessageReceived, Message: event.Message{Text: "x"}}); !slices.Equal(got, []string{"echo"}) {
		t.Errorf("a message fired %v", got)
	}
}
