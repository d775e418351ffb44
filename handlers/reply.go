package handlers

import (
	"context"
	"errors"
	"fmt"
)

// ReplyConfig is the `reply` plugin's parameters:
//
//	do:
//	  - reply: {text: "Hello {{.Participant.Name}}!"}
//	  - reply: {html: "<b>On it</b>, {{.Participant.Name}}.", typing: true}
type ReplyConfig struct {
	// Text is a text/template rendered over TemplateData and sent as plain
	// text.
	Text string `yaml:"text"`
	// HTML is an html/template rendered over TemplateData (event data is
	// HTML-escaped) and sent as text/html.
	HTML string `yaml:"html"`
	// Typing shows the bot typing before the reply.
	Typing bool `yaml:"typing"`
}

// Validate checks that exactly one of text and html is given and parses.
func (c *ReplyConfig) Validate() error {
	switch {
	case c.Text == "" && c.HTML == "":
		return errors.New(`reply: one of "text" or "html" is required`)
	case c.Text != "" && c.HTML != "":
		return errors.New(`reply: give "text" or "html", not both`)
	}
	_, err := c.template()
	return err
}

func (c *ReplyConfig) template() (*Template, error) {
	if c.HTML != "" {
		return ParseHTML("reply: html", c.HTML)
	}
	return ParseText("reply: text", c.Text)
}

// Reply sends a reply rendered from a template to the event's
// conversation.
type Reply struct {
	tmpl   *Template
	html   bool
	typing bool
}

var _ Handler = (*Reply)(nil)

// NewReply builds a Reply from a validated config.
func NewReply(c ReplyConfig) (*Reply, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t, err := c.template()
	if err != nil {
		return nil, err
	}
	return &Reply{tmpl: t, html: c.HTML != "", typing: c.Typing}, nil
}

// Handle renders the template and sends it; an empty result sends
// nothing.
func (h *Reply) Handle(ctx context.Context, req *Request) error {
	out, err := h.tmpl.Execute(NewTemplateData(req))
	if err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	if out == "" {
		return nil
	}
	if h.typing {
		if err := req.Reply.Typing(ctx); err != nil {
			return fmt.Errorf("reply: typing: %w", err)
		}
	}
	if h.html {
		err = req.Reply.SayHTML(ctx, out)
	} else {
		err = req.Reply.Say(ctx, out)
	}
	if err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	return nil
}
