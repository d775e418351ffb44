package handlers

import (
	"context"
	"fmt"
)

// LeaveConfig is the `leave` plugin's parameters.
//
//	do:
//	  - leave: {message: "Bye {{.Participant.Name}}!"}
type LeaveConfig struct {
	// Message, when given, is a text/template sent before leaving.
	Message string `yaml:"message"`
}

// Validate checks that the message parses.
func (c *LeaveConfig) Validate() error {
	if c.Message == "" {
		return nil
	}
	_, err := ParseText("leave: message", c.Message)
	return err
}

// Leave makes the bot leave the conversation, optionally saying goodbye.
type Leave struct{ message *Template }

var _ Handler = (*Leave)(nil)

// NewLeave builds a Leave from a config.
func NewLeave(c LeaveConfig) (*Leave, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	h := &Leave{}
	if c.Message != "" {
		h.message, _ = ParseText("leave: message", c.Message)
	}
	return h, nil
}

// Handle says the message, then leaves.
func (h *Leave) Handle(ctx context.Context, req *Request) error {
	if h.message != nil {
		text, err := h.message.Execute(NewTemplateData(req))
		if err != nil {
			return fmt.Errorf("leave: %w", err)
		}
		if text != "" {
			if err := req.Reply.Say(ctx, text); err != nil {
				return fmt.Errorf("leave: message: %w", err)
			}
		}
	}
	if err := req.Reply.Leave(ctx); err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	return nil
}
