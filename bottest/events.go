package bottest

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/rules"
)

// Events built here are the ones the engine makes of the simulator's
// event sequences, for checking a rule set without a running bot (see
// Fired) or for unit tests of handlers (with handlers/handlerstest).
// They belong to the conversation ConvID, with the bot as BotURI; change
// their fields for other cases.

// ConvID is the conversation id of the events the builders return.
const ConvID = "bottest-conversation"

var eventSeq atomic.Int64

func newEvent(kind event.Kind, uri string) *event.Event {
	return &event.Event{
		ID:           fmt.Sprintf("bottest-%d", eventSeq.Add(1)),
		Kind:         kind,
		Account:      BotURI,
		Time:         time.Now(),
		Conversation: event.Conversation{ID: ConvID, Direction: "Incoming"},
		Participant:  event.Participant{URI: uri, Name: nameOf(uri), Local: isBot(uri)},
	}
}

// MessageEvent returns a message.received event: from wrote text.
func MessageEvent(from, text string) *event.Event {
	ev := newEvent(event.MessageReceived, from)
	ev.Message = event.Message{Text: text, Direction: "Incoming"}
	return ev
}

// InvitationEvent returns an invitation.received event: from invites the
// bot with text as the first message.
func InvitationEvent(from, text string) *event.Event {
	ev := newEvent(event.InvitationReceived, from)
	ev.Message = event.Message{Text: text, Direction: "Incoming"}
	return ev
}

// JoinEvent returns a participant.joined event: uri joined (the bot
// itself when uri is BotURI).
func JoinEvent(uri string) *event.Event { return newEvent(event.ParticipantJoined, uri) }

// LeaveEvent returns a participant.left event: uri left.
func LeaveEvent(uri string) *event.Event { return newEvent(event.ParticipantLeft, uri) }

// Fired returns the names of the rules of set that fire for ev with the
// conversation state state, in order; no handler runs and cooldowns are
// ignored. An expression that fails to evaluate is an error.
func Fired(set *rules.Set, ev *event.Event, state map[string]any) ([]string, error) {
	matches, err := set.Eval(context.Background(), &rules.Input{
		Event: ev,
		State: state,
		Bot:   rules.Bot{Account: BotURI, Name: "Bot"},
	}, nil)
	var names []string
	for _, m := range matches {
		names = append(names, m.Rule.Name)
	}
	return names, err
}

// Fired returns the names of the bot's rules that fire for ev with the
// conversation state state, as the package function Fired; it fails the
// test when an expression fails.
func (b *Bot) Fired(ev *event.Event, state map[string]any) []string {
	b.t.Helper()
	names, err := Fired(b.Rules, ev, state)
	if err != nil {
		b.t.Fatalf("bottest: rules for %s: %v", ev.Kind, err)
	}
	return names
}
