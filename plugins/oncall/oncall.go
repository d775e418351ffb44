// Package oncall is a plugin that routes a request for help to the first
// on-call engineer who is available: it reads the engineers' presence
// (which the bot must be subscribed to: list them under the rules file's
// `subscribe:` key), invites the first Online one into the conversation,
// tells the requester, and records the choice in the conversation's
// state. When nobody is available it says so.
//
//	subscribe: [sip:ann@contoso.com, sip:bob@contoso.com]
//	rules:
//	  - name: page on-call
//	    on: [message.received]
//	    when: icontains(message.text, "urgent")
//	    do:
//	      - oncall:
//	          engineers: [sip:ann@contoso.com, sip:bob@contoso.com]
package oncall

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/plugins"
)

func init() { plugins.Register("oncall", plugins.Define(New)) }

// Config is the oncall plugin's parameters.
type Config struct {
	// Engineers are SIP URIs, in order of preference.
	Engineers []string `yaml:"engineers"`
	// Message is a text/template told to the requester once an engineer is
	// invited; besides handlers.TemplateData it sees .Engineer.
	Message string `yaml:"message"`
	// Already is a text/template said when this conversation already has
	// an engineer (who is then not invited again); it sees .Engineer.
	Already string `yaml:"already"`
	// Fallback is said when nobody is available.
	Fallback string `yaml:"fallback"`
	// Field is the state field that records the engineer (default
	// "oncall").
	Field string `yaml:"field"`
}

// Defaults of the texts a Config leaves empty.
const (
	DefaultMessage  = "I've asked {{.Engineer}} to join this conversation."
	DefaultAlready  = "{{.Engineer}} is already on it."
	DefaultFallback = "Nobody on call is available right now. Please try again later."
	DefaultField    = "oncall"
)

func (c *Config) withDefaults() Config {
	d := *c
	if d.Message == "" {
		d.Message = DefaultMessage
	}
	if d.Already == "" {
		d.Already = DefaultAlready
	}
	if d.Fallback == "" {
		d.Fallback = DefaultFallback
	}
	if d.Field == "" {
		d.Field = DefaultField
	}
	return d
}

// Validate checks the engineers' URIs and the templates.
func (c *Config) Validate() error {
	if len(c.Engineers) == 0 {
		return errors.New(`oncall: "engineers" is required`)
	}
	seen := map[string]bool{}
	for i, e := range c.Engineers {
		if err := handlers.ValidateSIPURI(e); err != nil {
			return fmt.Errorf("oncall: engineers[%d]: %w", i, err)
		}
		if seen[e] {
			return fmt.Errorf("oncall: engineers[%d]: %s is listed twice", i, e)
		}
		seen[e] = true
	}
	d := c.withDefaults()
	if _, err := handlers.ParseText("oncall: message", d.Message); err != nil {
		return err
	}
	_, err := handlers.ParseText("oncall: already", d.Already)
	return err
}

// Handler is the on-call router.
type Handler struct {
	cfg              Config
	message, already *handlers.Template

	mu         sync.Mutex
	subscribed map[string]bool
}

var _ handlers.Handler = (*Handler)(nil)

// New returns the router of a config.
func New(c Config) (handlers.Handler, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	d := c.withDefaults()
	h := &Handler{cfg: d, subscribed: map[string]bool{}}
	h.message, _ = handlers.ParseText("oncall: message", d.Message)
	h.already, _ = handlers.ParseText("oncall: already", d.Already)
	return h, nil
}

// templateData is what the router's templates see.
type templateData struct {
	handlers.TemplateData
	// Engineer is the SIP URI of the chosen engineer.
	Engineer string
}

// Handle invites the first available engineer, or says the fallback.
func (h *Handler) Handle(ctx context.Context, req *handlers.Request) error {
	data := templateData{TemplateData: handlers.NewTemplateData(req)}
	var prev string
	if ok, err := req.State.Get(h.cfg.Field, &prev); err != nil {
		return fmt.Errorf("oncall: %w", err)
	} else if ok && prev != "" {
		data.Engineer = prev
		return h.say(ctx, req, h.already, data)
	}
	var unknown []string
	for _, uri := range h.cfg.Engineers {
		p, ok := req.Reply.Presence(uri)
		if !ok {
			unknown = append(unknown, uri)
			continue
		}
		if !p.Available() {
			continue
		}
		if err := req.Reply.Invite(ctx, uri); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("oncall: invite %s: %w", uri, err)
			}
			req.Log.WithError(err).WithField("engineer", uri).Warn("oncall: invite failed; trying the next engineer")
			continue
		}
		if err := req.State.Set(h.cfg.Field, uri); err != nil {
			return fmt.Errorf("oncall: %w", err)
		}
		data.Engineer = uri
		return h.say(ctx, req, h.message, data)
	}
	h.subscribe(ctx, req, unknown)
	if err := req.Reply.Say(ctx, h.cfg.Fallback); err != nil {
		return fmt.Errorf("oncall: %w", err)
	}
	return nil
}

func (h *Handler) say(ctx context.Context, req *handlers.Request, t *handlers.Template, data templateData) error {
	text, err := t.Execute(data)
	if err != nil {
		return fmt.Errorf("oncall: %w", err)
	}
	if err := req.Reply.Say(ctx, text); err != nil {
		return fmt.Errorf("oncall: %w", err)
	}
	return nil
}

// subscribe asks once per engineer for the presence the router lacks, so
// that the next request can use it.
func (h *Handler) subscribe(ctx context.Context, req *handlers.Request, uris []string) {
	for _, uri := range uris {
		h.mu.Lock()
		done := h.subscribed[uri]
		h.subscribed[uri] = true
		h.mu.Unlock()
		if done {
			continue
		}
		if err := req.Reply.Subscribe(ctx, uri); err != nil {
			req.Log.WithError(err).WithField("engineer", uri).Warn("oncall: subscribe to presence")
			h.mu.Lock()
			delete(h.subscribed, uri)
			h.mu.Unlock()
		}
	}
}
