package handlers

import (
	"context"
	"fmt"
	"strings"
)

// defaultForwardTemplate is the forwarded text when the config gives none.
const defaultForwardTemplate = `{{default .Participant.URI .Participant.Name}}: {{.Message.Text}}`

// ForwardConfig is the `forward` plugin's parameters.
//
//	do:
//	  - forward: {to: "sip:helpdesk@contoso.com", subject: "From the bot"}
//	  - forward: {text: "{{.Participant.Name}} said: {{.Message.Text}}"}
type ForwardConfig struct {
	// To is the SIP URI to forward to in a new conversation. Empty: the
	// text goes to the event's own conversation.
	To string `yaml:"to"`
	// Subject of the new conversation.
	Subject string `yaml:"subject"`
	// Text is a text/template of what is forwarded (default: the author's
	// name and the event's text).
	Text string `yaml:"text"`
}

// Validate checks the SIP URI and that the text parses.
func (c *ForwardConfig) Validate() error {
	if c.To != "" {
		if err := ValidateSIPURI(c.To); err != nil {
			return fmt.Errorf("forward: to: %w", err)
		}
	} else if c.Subject != "" {
		return fmt.Errorf(`forward: "subject" needs "to"`)
	}
	_, err := ParseText("forward: text", c.text())
	return err
}

func (c *ForwardConfig) text() string {
	if c.Text == "" {
		return defaultForwardTemplate
	}
	return c.Text
}

// ValidateSIPURI checks that uri looks like sip:user@domain.
func ValidateSIPURI(uri string) error {
	rest, ok := strings.CutPrefix(uri, "sip:")
	user, domain, at := strings.Cut(rest, "@")
	if !ok || !at || user == "" || domain == "" || strings.ContainsAny(rest, " \t\r\n<>\"") {
		return fmt.Errorf("%q is not a SIP URI like sip:user@example.com", uri)
	}
	return nil
}

// Forward sends the event's text to another person (a new conversation)
// or to the event's conversation.
type Forward struct {
	to, subject string
	text        *Template
}

var _ Handler = (*Forward)(nil)

// NewForward builds a Forward from a config.
func NewForward(c ForwardConfig) (*Forward, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t, _ := ParseText("forward: text", c.text())
	return &Forward{to: c.To, subject: c.Subject, text: t}, nil
}

// Handle renders the text and sends it; an empty result sends nothing.
func (h *Forward) Handle(ctx context.Context, req *Request) error {
	text, err := h.text.Execute(NewTemplateData(req))
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	if text == "" {
		return nil
	}
	if h.to == "" {
		err = req.Reply.Say(ctx, text)
	} else {
		err = req.Reply.StartConversation(ctx, h.to, h.subject, text)
	}
	if err != nil {
		return fmt.Errorf("forward to %s: %w", h.dest(), err)
	}
	return nil
}

func (h *Forward) dest() string {
	if h.to == "" {
		return "the conversation"
	}
	return h.to
}
