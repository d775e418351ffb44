package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// TimerConfig is the `timer` plugin's parameters: a named timer of the
// conversation that fires a timer.fired event after a while, unless a
// later step cancels it (`cancel_timer`). Setting it again restarts it.
//
//	do:
//	  - timer: {name: escalate, after: 10m}
type TimerConfig struct {
	Name  string        `yaml:"name"`
	After time.Duration `yaml:"after"`
}

// Validate checks the name and the duration.
func (c *TimerConfig) Validate() error {
	if !validStateField(c.Name) {
		return fmt.Errorf("timer: name %q is not a name (letters, digits, _ and -)", c.Name)
	}
	if c.After <= 0 {
		return errors.New("timer: after must be a positive duration such as 10m")
	}
	return nil
}

// Timer sets a conversation's timer.
type Timer struct{ c TimerConfig }

var _ Handler = (*Timer)(nil)

// NewTimer builds a Timer from a config.
func NewTimer(c TimerConfig) (*Timer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Timer{c}, nil
}

// Handle sets the timer.
func (h *Timer) Handle(ctx context.Context, req *Request) error {
	if req.Timers == nil {
		return errors.New("timer: the event has no conversation")
	}
	return req.Timers.Set(ctx, h.c.Name, h.c.After)
}

// CancelTimerConfig is the `cancel_timer` plugin's parameters.
//
//	do:
//	  - cancel_timer: {name: escalate}
type CancelTimerConfig struct {
	Name string `yaml:"name"`
}

// Validate checks the name.
func (c *CancelTimerConfig) Validate() error {
	if !validStateField(c.Name) {
		return fmt.Errorf("cancel_timer: name %q is not a name (letters, digits, _ and -)", c.Name)
	}
	return nil
}

// CancelTimer stops a conversation's timer.
type CancelTimer struct{ name string }

var _ Handler = (*CancelTimer)(nil)

// NewCancelTimer builds a CancelTimer from a config.
func NewCancelTimer(c CancelTimerConfig) (*CancelTimer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &CancelTimer{c.Name}, nil
}

// Handle cancels the timer.
func (h *CancelTimer) Handle(ctx context.Context, req *Request) error {
	if req.Timers == nil {
		return errors.New("cancel_timer: the event has no conversation")
	}
	return req.Timers.Cancel(ctx, h.name)
}
