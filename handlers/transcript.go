package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// TranscriptConfig is the `transcript` plugin's parameters: who gets the
// conversation's transcript.
//
//	do:
//	  - transcript: {to: sip:supervisor@contoso.com, subject: "Escalated chat"}
type TranscriptConfig struct {
	// To is the SIP URI of the person who gets it, in a new conversation.
	To string `yaml:"to"`
	// Subject of that conversation (default "Transcript").
	Subject string `yaml:"subject"`
}

// Validate checks the recipient.
func (c *TranscriptConfig) Validate() error {
	if !strings.HasPrefix(strings.ToLower(c.To), "sip:") || !strings.Contains(c.To, "@") {
		return fmt.Errorf("transcript: to %q is not a SIP URI such as sip:supervisor@contoso.com", c.To)
	}
	return nil
}

// TranscriptTo hands the conversation's transcript to a person.
type TranscriptTo struct{ to, subject string }

var _ Handler = (*TranscriptTo)(nil)

// NewTranscript builds a TranscriptTo from a config.
func NewTranscript(c TranscriptConfig) (*TranscriptTo, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Subject == "" {
		c.Subject = "Transcript"
	}
	return &TranscriptTo{to: c.To, subject: c.Subject}, nil
}

// Handle sends the transcript as the first message of a new conversation.
func (h *TranscriptTo) Handle(ctx context.Context, req *Request) error {
	if req.Transcript == nil {
		return errors.New("transcript: the bot keeps no transcripts (transcripts.retention is 0)")
	}
	text, err := req.Transcript(ctx)
	if err != nil {
		return fmt.Errorf("transcript: %w", err)
	}
	return req.Reply.StartConversation(ctx, h.to, h.subject, text)
}
