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
//
// With escalate_after, the router escalates: it starts a timer (named
// after its state field) when it invites an engineer, and when the timer
// fires before that engineer joined it invites the next available one
// and tells the person waiting. A second rule hands it the events it
// follows up on, the joins and its timer:
//
//   - name: on-call follow-up
//     on: [participant.joined, timer.fired]
//     do:
//   - oncall:
//     engineers: [sip:ann@contoso.com, sip:bob@contoso.com]
//     escalate_after: 10m
package oncall

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
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
	// "oncall"); Field+"_tried" lists the engineers invited, and the
	// escalation timer is named Field.
	Field string `yaml:"field"`
	// EscalateAfter, when set, is how long an invited engineer has to
	// join before the next available one is invited.
	EscalateAfter time.Duration `yaml:"escalate_after"`
	// Escalated is said when the next engineer is invited; it sees
	// .Engineer and .Previous.
	Escalated string `yaml:"escalated"`
	// NobodyElse is said when the engineer did not join and nobody else
	// is available.
	NobodyElse string `yaml:"nobody_else"`
}

// Defaults of the texts a Config leaves empty.
const (
	DefaultMessage  = "I've asked {{.Engineer}} to join this conversation."
	DefaultAlready  = "{{.Engineer}} is already on it."
	DefaultFallback = "Nobody on call is available right now. Please try again later."
	DefaultField    = "oncall"

	DefaultEscalated  = "{{.Previous}} has not joined yet, so I've asked {{.Engineer}} to join as well."
	DefaultNobodyElse = "{{.Previous}} has not joined yet and nobody else on call is available. Please call the hotline."
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
	if d.Escalated == "" {
		d.Escalated = DefaultEscalated
	}
	if d.NobodyElse == "" {
		d.NobodyElse = DefaultNobodyElse
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
	if c.EscalateAfter < 0 {
		return errors.New("oncall: escalate_after must not be negative")
	}
	d := c.withDefaults()
	for key, src := range map[string]string{"message": d.Message, "already": d.Already, "escalated": d.Escalated, "nobody_else": d.NobodyElse} {
		if _, err := handlers.ParseText("oncall: "+key, src); err != nil {
			return err
		}
	}
	return nil
}

// Handler is the on-call router.
type Handler struct {
	cfg                                     Config
	message, already, escalated, nobodyElse *handlers.Template

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
	h.escalated, _ = handlers.ParseText("oncall: escalated", d.Escalated)
	h.nobodyElse, _ = handlers.ParseText("oncall: nobody_else", d.NobodyElse)
	return h, nil
}

// templateData is what the router's templates see.
type templateData struct {
	handlers.TemplateData
	// Engineer is the SIP URI of the chosen engineer; Previous, when
	// escalating, the one who did not join.
	Engineer, Previous string
}

// Handle invites the first available engineer, or says the fallback. On
// a join of the invited engineer it stops the escalation timer; when the
// timer fires it escalates.
func (h *Handler) Handle(ctx context.Context, req *handlers.Request) error {
	switch ev := req.Event; {
	case ev.Kind == event.ParticipantJoined:
		return h.joined(ctx, req)
	case ev.Kind == event.TimerFired && ev.Timer.Name == h.cfg.Field:
		return h.escalate(ctx, req)
	case ev.Kind == event.TimerFired:
		return nil // another rule's timer
	}
	data := templateData{TemplateData: handlers.NewTemplateData(req)}
	var prev string
	if ok, err := req.State.Get(h.cfg.Field, &prev); err != nil {
		return fmt.Errorf("oncall: %w", err)
	} else if ok && prev != "" {
		data.Engineer = prev
		return h.say(ctx, req, h.already, data)
	}
	uri, unknown, err := h.inviteFirst(ctx, req, nil)
	if err != nil {
		return err
	}
	if uri != "" {
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

func (h *Handler) triedField() string { return h.cfg.Field + "_tried" }

// record notes uri as the engineer asked (after tried), and starts the
// escalation timer.
func (h *Handler) record(ctx context.Context, req *handlers.Request, uri string, tried []string) error {
	if err := req.State.Set(h.cfg.Field, uri); err != nil {
		return fmt.Errorf("oncall: %w", err)
	}
	if err := req.State.Set(h.triedField(), append(tried, uri)); err != nil {
		return fmt.Errorf("oncall: %w", err)
	}
	if h.cfg.EscalateAfter > 0 && req.Timers != nil {
		if err := req.Timers.Set(ctx, h.cfg.Field, h.cfg.EscalateAfter); err != nil {
			return fmt.Errorf("oncall: escalation timer: %w", err)
		}
	}
	return nil
}

func (h *Handler) joinedField() string { return h.cfg.Field + "_joined" }

// joined stops the escalation once an engineer asked joins, the last
// asked or an earlier one.
func (h *Handler) joined(ctx context.Context, req *handlers.Request) error {
	var tried []string
	if _, err := req.State.Get(h.triedField(), &tried); err != nil {
		return fmt.Errorf("oncall: %w", err)
	}
	who := req.Event.Participant.URI
	if !slices.ContainsFunc(tried, func(t string) bool { return strings.EqualFold(t, who) }) {
		return nil
	}
	if err := req.State.Set(h.joinedField(), who); err != nil {
		return fmt.Errorf("oncall: %w", err)
	}
	if h.cfg.EscalateAfter > 0 && req.Timers != nil {
		if err := req.Timers.Cancel(ctx, h.cfg.Field); err != nil {
			return fmt.Errorf("oncall: escalation timer: %w", err)
		}
	}
	return nil
}

// escalate invites the next available engineer not asked yet, and tells
// the person waiting.
func (h *Handler) escalate(ctx context.Context, req *handlers.Request) error {
	var prev string
	var tried []string
	if _, err := req.State.Get(h.cfg.Field, &prev); err != nil {
		return fmt.Errorf("oncall: %w", err)
	}
	if _, err := req.State.Get(h.triedField(), &tried); err != nil {
		return fmt.Errorf("oncall: %w", err)
	}
	var joined string
	if ok, err := req.State.Get(h.joinedField(), &joined); err != nil {
		return fmt.Errorf("oncall: %w", err)
	} else if ok && joined != "" {
		return nil // an engineer joined while the timer ran out
	}
	data := templateData{TemplateData: handlers.NewTemplateData(req), Previous: prev}
	uri, _, err := h.inviteFirst(ctx, req, tried)
	if err != nil {
		return err
	}
	if uri == "" {
		return h.say(ctx, req, h.nobodyElse, data)
	}
	data.Engineer = uri
	return h.say(ctx, req, h.escalated, data)
}

// inviteFirst invites the first available engineer not in tried and
// records the choice; uri is "" when nobody could be invited, unknown the
// engineers whose presence is not known.
func (h *Handler) inviteFirst(ctx context.Context, req *handlers.Request, tried []string) (uri string, unknown []string, err error) {
	for _, e := range h.cfg.Engineers {
		if slices.ContainsFunc(tried, func(t string) bool { return strings.EqualFold(t, e) }) {
			continue
		}
		p, ok := req.Reply.Presence(e)
		if !ok {
			unknown = append(unknown, e)
			continue
		}
		if !p.Available() {
			continue
		}
		if err := req.Reply.Invite(ctx, e); err != nil {
			if ctx.Err() != nil {
				return "", unknown, fmt.Errorf("oncall: invite %s: %w", e, err)
			}
			req.Log.WithError(err).WithField("engineer", e).Warn("oncall: invite failed; trying the next engineer")
			continue
		}
		return e, unknown, h.record(ctx, req, e, tried)
	}
	return "", unknown, nil
}
