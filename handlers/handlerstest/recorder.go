// Package handlerstest helps unit-test handlers without a bot: a Responder
// that records what a handler does, and a Request builder around it.
//
// To test a plugin end to end, against the UCWA simulator and a real
// store, use package bottest instead.
package handlerstest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/handlers"
)

// Action is one thing a handler asked the Responder to do.
type Action struct {
	// Op names the Responder method: say, html, typing, leave, accept,
	// decline, start, invite, subscribe.
	Op string
	// To is the SIP URI of start, invite and subscribe.
	To string
	// Subject is the subject of start.
	Subject string
	// Text is the text of say, html and start.
	Text string
}

// Recorder is a handlers.Responder that records every call. Fail makes
// chosen operations return an error. It is safe for concurrent use.
type Recorder struct {
	mu       sync.Mutex
	actions  []Action
	presence map[string]event.Presence
	fail     map[string]error
}

var _ handlers.Responder = (*Recorder)(nil)

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{presence: map[string]event.Presence{}, fail: map[string]error{}}
}

// SetPresence sets what Presence returns for uri.
func (r *Recorder) SetPresence(uri, availability string) {
	r.mu.Lock()
	r.presence[uri] = event.Presence{URI: uri, Availability: availability}
	r.mu.Unlock()
}

// Fail makes every later call of op (an Action.Op) return err.
func (r *Recorder) Fail(op string, err error) {
	r.mu.Lock()
	r.fail[op] = err
	r.mu.Unlock()
}

// Actions returns the calls so far, in order.
func (r *Recorder) Actions() []Action {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Action(nil), r.actions...)
}

// Said returns the texts of say and html calls, in order.
func (r *Recorder) Said() []string {
	var out []string
	for _, a := range r.Actions() {
		if a.Op == "say" || a.Op == "html" {
			out = append(out, a.Text)
		}
	}
	return out
}

func (r *Recorder) record(ctx context.Context, a Action) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fail[a.Op]; err != nil {
		return err
	}
	r.actions = append(r.actions, a)
	return nil
}

// Say records a say action.
func (r *Recorder) Say(ctx context.Context, text string) error {
	return r.record(ctx, Action{Op: "say", Text: text})
}

// SayHTML records an html action.
func (r *Recorder) SayHTML(ctx context.Context, html string) error {
	return r.record(ctx, Action{Op: "html", Text: html})
}

// Typing records a typing action.
func (r *Recorder) Typing(ctx context.Context) error { return r.record(ctx, Action{Op: "typing"}) }

// Leave records a leave action.
func (r *Recorder) Leave(ctx context.Context) error { return r.record(ctx, Action{Op: "leave"}) }

// Accept records an accept action.
func (r *Recorder) Accept(ctx context.Context) error { return r.record(ctx, Action{Op: "accept"}) }

// Decline records a decline action.
func (r *Recorder) Decline(ctx context.Context) error { return r.record(ctx, Action{Op: "decline"}) }

// StartConversation records a start action.
func (r *Recorder) StartConversation(ctx context.Context, to, subject, text string) error {
	return r.record(ctx, Action{Op: "start", To: to, Subject: subject, Text: text})
}

// Invite records an invite action.
func (r *Recorder) Invite(ctx context.Context, to string) error {
	return r.record(ctx, Action{Op: "invite", To: to})
}

// Subscribe records a subscribe action.
func (r *Recorder) Subscribe(ctx context.Context, uri string) error {
	return r.record(ctx, Action{Op: "subscribe", To: uri})
}

// Presence returns what SetPresence set for uri.
func (r *Recorder) Presence(uri string) (event.Presence, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.presence[uri]
	return p, ok
}

// NewRequest returns a request for ev with an empty state, a Recorder as
// its responder and a logger writing to t.
func NewRequest(t testing.TB, ev *event.Event) (*handlers.Request, *Recorder) {
	rec := NewRecorder()
	return &handlers.Request{
		Event: ev,
		State: event.NewState(map[string]json.RawMessage{}),
		Rule:  handlers.Rule{Name: "test", Handler: "test", File: "rules.yaml", Line: 1},
		Log:   Logger(t),
		Reply: rec,
	}, rec
}

// Message returns a message.received event from uri with text.
func Message(uri, text string) *event.Event {
	return &event.Event{
		ID:           "ev-1",
		Kind:         event.MessageReceived,
		Account:      "sip:bot@contoso.com",
		Conversation: event.Conversation{ID: "/conv/1"},
		Participant:  event.Participant{URI: uri, Name: "Alice"},
		Message:      event.Message{Text: text, Direction: "Incoming"},
	}
}

// Logger returns a debug-level logger that writes to t.
func Logger(t testing.TB) *logrus.Logger {
	l := logrus.New()
	l.SetLevel(logrus.DebugLevel)
	l.SetOutput(writer{t})
	return l
}

type writer struct{ t testing.TB }

func (w writer) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}
