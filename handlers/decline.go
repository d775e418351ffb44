package handlers

import (
	"context"
	"fmt"

	"github.com/ucwabot/ucwabot/bot/event"
)

// DeclineConfig is the `decline` plugin's parameters; it has none:
//
//	do:
//	  - decline: {}
type DeclineConfig struct{}

// Validate accepts every DeclineConfig.
func (c *DeclineConfig) Validate() error { return nil }

// Decline declines the invitation of an invitation.received event.
type Decline struct{}

var _ Handler = (*Decline)(nil)

// NewDecline builds a Decline.
func NewDecline(DeclineConfig) (*Decline, error) { return &Decline{}, nil }

// Handle declines the invitation.
func (h *Decline) Handle(ctx context.Context, req *Request) error {
	if req.Event.Kind != event.InvitationReceived {
		return fmt.Errorf("decline: %w: %s", ErrNotInvitation, req.Event.Kind)
	}
	if err := req.Reply.Decline(ctx); err != nil {
		return fmt.Errorf("decline: %w", err)
	}
	return nil
}
