package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// SetConfig is the `set` plugin's parameters: fields to write into the
// conversation's state.
//
//	do:
//	  - set: {fields: {greeted: true, step: 1}}
//	  - set: {templates: {topic: "{{.Message.Text}}"}}
type SetConfig struct {
	// Scope is where the fields go: conversation (the default, state.x),
	// person (the event's participant, across conversations: person.state.x)
	// or kv (the bot account's key/value space: kv("x")).
	Scope string `yaml:"scope"`
	// TTL of kv values (scope kv; default: the engine's).
	TTL time.Duration `yaml:"ttl"`
	// Fields are stored as given (any YAML value, stored as JSON).
	Fields map[string]any `yaml:"fields"`
	// Templates are text/templates over TemplateData; each result is
	// stored as a string.
	Templates map[string]string `yaml:"templates"`
}

// Validate checks that there is something to set, names are not empty,
// values encode as JSON and templates parse.
func (c *SetConfig) Validate() error {
	if len(c.Fields) == 0 && len(c.Templates) == 0 {
		return errors.New(`set: "fields" or "templates" is required`)
	}
	switch c.Scope {
	case "", "conversation", "person", "kv":
	default:
		return fmt.Errorf("set: scope %q is not conversation, person or kv", c.Scope)
	}
	if c.TTL < 0 || c.TTL != 0 && c.Scope != "kv" {
		return errors.New("set: ttl is for scope kv, and not negative")
	}
	for name, v := range c.Fields {
		if name == "" {
			return errors.New("set: fields: empty field name")
		}
		if _, err := json.Marshal(v); err != nil {
			return fmt.Errorf("set: fields.%s: %w", name, err)
		}
		if _, dup := c.Templates[name]; dup {
			return fmt.Errorf("set: %q is in both fields and templates", name)
		}
	}
	for name, src := range c.Templates {
		if name == "" {
			return errors.New("set: templates: empty field name")
		}
		if _, err := ParseText("set: templates."+name, src); err != nil {
			return err
		}
	}
	return nil
}

// Set writes fields into the conversation's state.
type Set struct {
	scope     string
	ttl       time.Duration
	fields    map[string]any
	templates map[string]*Template
	names     []string
}

var _ Handler = (*Set)(nil)

// NewSet builds a Set from a config.
func NewSet(c SetConfig) (*Set, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	h := &Set{scope: c.Scope, ttl: c.TTL, fields: c.Fields, templates: map[string]*Template{}}
	for name := range c.Fields {
		h.names = append(h.names, name)
	}
	for name, src := range c.Templates {
		t, err := ParseText("set: templates."+name, src)
		if err != nil {
			return nil, err
		}
		h.templates[name] = t
		h.names = append(h.names, name)
	}
	sort.Strings(h.names)
	return h, nil
}

// Handle sets the fields, in name order, in the scope's state.
func (h *Set) Handle(ctx context.Context, req *Request) error {
	data := NewTemplateData(req)
	for _, name := range h.names {
		var v any
		if t, ok := h.templates[name]; ok {
			s, err := t.Execute(data)
			if err != nil {
				return fmt.Errorf("set: %w", err)
			}
			v = s
		} else {
			v = h.fields[name]
		}
		if err := h.set(ctx, req, name, v); err != nil {
			return fmt.Errorf("set: %w", err)
		}
	}
	return nil
}

func (h *Set) set(ctx context.Context, req *Request, name string, v any) error {
	switch h.scope {
	case "person":
		if req.Person == nil {
			return errors.New("scope person: the event has no participant")
		}
		return req.Person.Set(name, v)
	case "kv":
		if req.KV == nil {
			return errors.New("scope kv: no key/value space here")
		}
		return req.KV.Set(ctx, name, v, h.ttl)
	}
	return req.State.Set(name, v)
}
