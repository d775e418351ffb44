// customplugin:start

// Package shout is a ucwabot plugin that answers every message in capitals.
package shout

import (
	"context"
	"errors"
	"strings"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/plugins"
)

// Config is the plugin's parameters in a rule: `- shout: {suffix: "!!!"}`.
type Config struct {
	Suffix string `yaml:"suffix"`
}

// Validate runs when the rules load: a bad value fails the load at the rule's line.
func (c *Config) Validate() error {
	if len(c.Suffix) > 10 {
		return errors.New("shout: suffix: at most 10 characters")
	}
	return nil
}

func init() {
	plugins.Register("shout", plugins.Define(func(c Config) (handlers.Handler, error) {
		return handlers.HandlerFunc(func(ctx context.Context, req *handlers.Request) error {
			return req.Reply.Say(ctx, strings.ToUpper(req.Event.Message.Text)+c.Suffix)
		}), nil
	}))
}

// customplugin:end
