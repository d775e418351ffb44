package handlers

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"
)

// LogConfig is the `log` plugin's parameters.
//
//	do:
//	  - log: {message: "{{.Participant.URI}} asked for help", level: info}
type LogConfig struct {
	// Message is a text/template over TemplateData (default: "event").
	Message string `yaml:"message"`
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
}

// Validate checks the level and that the message parses.
func (c *LogConfig) Validate() error {
	if _, err := c.level(); err != nil {
		return err
	}
	_, err := ParseText("log: message", c.message())
	return err
}

func (c *LogConfig) message() string {
	if c.Message == "" {
		return "event"
	}
	return c.Message
}

func (c *LogConfig) level() (logrus.Level, error) {
	switch c.Level {
	case "", "info":
		return logrus.InfoLevel, nil
	case "debug":
		return logrus.DebugLevel, nil
	case "warn", "warning":
		return logrus.WarnLevel, nil
	case "error":
		return logrus.ErrorLevel, nil
	}
	return 0, fmt.Errorf("log: level %q is not one of debug, info, warn, error", c.Level)
}

// Log writes a line on the request's logger, with the event's kind, id
// and participant as fields.
type Log struct {
	message *Template
	level   logrus.Level
}

var _ Handler = (*Log)(nil)

// NewLog builds a Log from a config.
func NewLog(c LogConfig) (*Log, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	lvl, _ := c.level()
	t, _ := ParseText("log: message", c.message())
	return &Log{message: t, level: lvl}, nil
}

// Handle logs the rendered message.
func (h *Log) Handle(_ context.Context, req *Request) error {
	msg, err := h.message.Execute(NewTemplateData(req))
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	if req.Log == nil {
		return nil
	}
	req.Log.WithFields(logrus.Fields{
		"event":       req.Event.ID,
		"kind":        string(req.Event.Kind),
		"participant": req.Event.Participant.URI,
	}).Log(h.level, msg)
	return nil
}
