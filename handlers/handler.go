// Package handlers defines what a handler plugin is: at the heart of
// ucwabot is one simple interface, Handler, which the engine calls for every
// rule action that matches an event.
package handlers

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot/event"
)

// Handler reacts to one event for one rule action.
//
// Handle may be called concurrently for events of different conversations;
// calls for one conversation never overlap and arrive in event order. The
// engine cancels ctx when the handler's timeout passes or the bot shuts
// down; a handler should return promptly then. A returned error is logged
// with account, conversation, rule and handler, counted, and the engine goes
// on with the next action.
type Handler interface {
	Handle(ctx context.Context, req *Request) error
}

// HandlerFunc adapts an ordinary function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) error

// Handle calls f(ctx, req).
func (f HandlerFunc) Handle(ctx context.Context, req *Request) error { return f(ctx, req) }

// Request is what a handler gets for one event and one rule action.
type Request struct {
	// Event is the event being handled. Handlers must not modify it.
	Event *event.Event
	// State is the conversation's state; changes are written back when all
	// the event's handlers have run.
	State *event.State
	// Person is the state kept for the event's participant across
	// conversations (expressions read it as person.state); nil when the
	// event has no remote participant. Changes are written back when all
	// the event's handlers have run, field by field.
	Person *event.State
	// KV is the bot account's key/value space (expressions read it with
	// kv("name")); nil where there is no store.
	KV KV
	// Transcript renders the conversation's transcript so far (before this
	// event); nil when the bot keeps no transcripts.
	Transcript func(ctx context.Context) (string, error)
	// Timers sets and cancels the timers of the event's conversation; nil
	// for events outside a conversation.
	Timers Timers
	// Rule is the rule whose action called the handler.
	Rule Rule
	// Log is scoped to account, conversation, rule and handler.
	Log logrus.FieldLogger
	// Reply acts in the event's conversation and on the bot account.
	Reply Responder
	// IdempotencyKey names this run of this step for this event, and is
	// the same when the event is replayed after a crash or a takeover.
	// Replies and the other Responder calls are deduplicated by the
	// engine; anything else a handler does runs again on a replay (at
	// least once), so a handler that calls another system passes the key
	// on (the webhook sends it as the Idempotency-Key header) for that
	// system to drop the repeat.
	IdempotencyKey string
	// Redelivered is set when an earlier run of the event may have run
	// this step already (a replay after a crash or a takeover).
	Redelivered bool
	// Failed, for a step of the rule's on_error list, is the error of the
	// step of do that failed.
	Failed error
}

// KV is a bot account's key/value space: values kept beside the
// conversations, each with a TTL, written under the lease like
// conversation state.
type KV interface {
	// Get decodes the value of name into v and reports whether it exists.
	Get(ctx context.Context, name string, v any) (bool, error)
	// Set stores v (as JSON) under name for ttl (0: the default TTL).
	Set(ctx context.Context, name string, v any, ttl time.Duration) error
	// Delete removes name.
	Delete(ctx context.Context, name string) error
}

// Timers are the timers of one conversation. A timer that comes due
// becomes a timer.fired event with its name, handled like any event: once,
// by the instance that drives the account then, after a restart or a
// takeover too.
type Timers interface {
	// Set (re)starts the timer name to fire after d.
	Set(ctx context.Context, name string, after time.Duration) error
	// Cancel stops the timer name; one not set is no error.
	Cancel(ctx context.Context, name string) error
}

// Rule identifies the rule action that called a handler.
type Rule struct {
	// Name of the rule.
	Name string
	// Handler is the plugin name the action names.
	Handler string
	// Index is the action's position in the rule's `do` list.
	Index int
	// File and Line locate the action in the rules files.
	File string
	Line int
}

// Responder acts for the bot. Its methods act in the event's conversation
// unless they name another one. Texts are sent as given: a user's text is
// never interpreted as a template. All methods may be called concurrently.
type Responder interface {
	// Say sends text/plain to the conversation.
	Say(ctx context.Context, text string) error
	// SayHTML sends text/html to the conversation (plain text where the
	// conversation did not negotiate HTML).
	SayHTML(ctx context.Context, html string) error
	// Typing shows the bot as typing for a few seconds.
	Typing(ctx context.Context) error
	// Leave makes the bot leave the conversation.
	Leave(ctx context.Context) error
	// Accept accepts the pending invitation of an invitation.received event.
	Accept(ctx context.Context) error
	// Decline declines the pending invitation of an invitation.received event.
	Decline(ctx context.Context) error
	// StartConversation opens a new IM conversation with the SIP URI to and
	// sends text as its first message.
	StartConversation(ctx context.Context, to, subject, text string) error
	// Invite adds the SIP URI to to the event's conversation.
	Invite(ctx context.Context, to string) error
	// Subscribe subscribes the bot to the SIP URI's presence; changes arrive
	// as presence.changed events.
	Subscribe(ctx context.Context, uri string) error
	// Presence returns the last known presence of a subscribed contact.
	Presence(uri string) (event.Presence, bool)
}

// Cleaner is implemented by handlers that hold resources. The rule set that
// built a handler calls Cleanup once when it is replaced or the bot stops.
type Cleaner interface {
	Cleanup() error
}
