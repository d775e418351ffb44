package handlers

import (
	"context"
	"errors"
	"fmt"

	"github.com/ucwabot/ucwabot/bot/event"
)

// ErrNotInvitation is returned by the accept and decline handlers when
// the event is not an invitation.received event.
var ErrNotInvitation = errors.New("not an invitation event")

// AcceptConfig is the `accept` plugin's parameters.
//
//	do:
//	  - accept: {}
//	  - accept: {greeting: "Hi {{.Participant.Name}}, how can I help?"}
type AcceptConfig struct {
	// Greeting, when given, is a text/template sent once the invitation is
	// accepted.
	Greeting string `yaml:"greeting"`
}

// Validate checks that the greeting parses.
func (c *AcceptConfig) Validate() error {
	if c.Greeting == "" {
		return nil
	}
	_, err := ParseText("accept: greeting", c.Greeting)
	return err
}

// Accept accepts the invitation of an invitation.received event.
type Accept struct{ greeting *Template }

var _ Handler = (*Accept)(nil)

// NewAccept builds an Accept from a config.
func NewAccept(c AcceptConfig) (*Accept, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	h := &Accept{}
	if c.Greeting != "" {
		h.greeting, _ = ParseText("accept: greeting", c.Greeting)
	}
	return h, nil
}

// Handle accepts the invitation, then sends the greeting.
func (h *Accept) Handle(ctx context.Context, req *Request) error {
	if req.Event.Kind != event.InvitationReceived {
		return fmt.Errorf("accept: %w: %s", ErrNotInvitation, req.Event.Kind)
	}
	if err := req.Reply.Accept(ctx); err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	if h.greeting == nil {
		return nil
	}
	text, err := h.greeting.Execute(NewTemplateData(req))
	if err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	if text == "" {
		return nil
	}
	if err := req.Reply.Say(ctx, text); err != nil {
		return fmt.Errorf("accept: greeting: %w", err)
	}
	return nil
}
