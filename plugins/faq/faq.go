// Package faq is a plugin that answers frequently asked questions from a
// YAML file (see File for its format). The file is read and checked when
// the rules load, so a reload picks up its changes and a broken file
// fails the load with file:line.
//
//	rules:
//	  - name: faq
//	    on: [message.received]
//	    do:
//	      - faq: {file: /etc/ucwabot/faq.yaml, fallback: "Sorry, I don't know that one."}
package faq

import (
	"context"
	"errors"
	"fmt"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/plugins"
)

func init() { plugins.Register("faq", plugins.Define(New)) }

// Config is the faq plugin's parameters.
type Config struct {
	// File is the FAQ file; a relative path is relative to the bot's
	// working directory.
	File string `yaml:"file"`
	// Fallback is said when no entry matches; empty: say nothing, so other
	// rules may answer.
	Fallback string `yaml:"fallback"`
	// Field, when set, names a state field that records the location
	// (file:line) of the entry that answered last.
	Field string `yaml:"field"`
}

// Validate checks that a file is named.
func (c *Config) Validate() error {
	if c.File == "" {
		return errors.New(`faq: "file" is required`)
	}
	return nil
}

// Handler answers from an FAQ file.
type Handler struct {
	faq *File
	cfg Config
}

var _ handlers.Handler = (*Handler)(nil)

// New loads the config's file and returns its handler.
func New(c Config) (handlers.Handler, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	f, err := Load(c.File)
	if err != nil {
		return nil, err
	}
	return &Handler{faq: f, cfg: c}, nil
}

// Handle answers the event's text with the first matching entry, or the
// fallback.
func (h *Handler) Handle(ctx context.Context, req *handlers.Request) error {
	e, ok := h.faq.Match(req.Event.Message.Text)
	var err error
	switch {
	case !ok && h.cfg.Fallback == "":
		return nil
	case !ok:
		err = req.Reply.Say(ctx, h.cfg.Fallback)
	case e.HTML != "":
		err = req.Reply.SayHTML(ctx, e.HTML)
	default:
		err = req.Reply.Say(ctx, e.Answer)
	}
	if err != nil {
		return fmt.Errorf("faq: %w", err)
	}
	if ok && h.cfg.Field != "" {
		return req.State.Set(h.cfg.Field, e.Location())
	}
	return nil
}
