package handlers

import (
	"context"
	"errors"
)

// UnsetConfig is the `unset` plugin's parameters: fields to remove from
// the conversation's state.
//
//	do:
//	  - unset: {fields: [step, topic]}
//	  - unset: {all: true}
type UnsetConfig struct {
	// Fields are the names to remove.
	Fields []string `yaml:"fields"`
	// All removes every field.
	All bool `yaml:"all"`
}

// Validate checks that exactly one of fields and all is given.
func (c *UnsetConfig) Validate() error {
	switch {
	case len(c.Fields) == 0 && !c.All:
		return errors.New(`unset: "fields" or "all: true" is required`)
	case len(c.Fields) > 0 && c.All:
		return errors.New(`unset: give "fields" or "all", not both`)
	}
	for _, f := range c.Fields {
		if f == "" {
			return errors.New("unset: fields: empty field name")
		}
	}
	return nil
}

// Unset removes fields from the conversation's state.
type Unset struct{ cfg UnsetConfig }

var _ Handler = (*Unset)(nil)

// NewUnset builds an Unset from a config.
func NewUnset(c UnsetConfig) (*Unset, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Unset{cfg: c}, nil
}

// Handle removes the fields; removing a field that does not exist is not
// an error.
func (h *Unset) Handle(_ context.Context, req *Request) error {
	names := h.cfg.Fields
	if h.cfg.All {
		names = req.State.Names()
	}
	for _, n := range names {
		req.State.Delete(n)
	}
	return nil
}
