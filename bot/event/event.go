// Package event defines the domain events that rules and handlers see.
//
// The engine (package bot) turns raw UCWA event-channel batches into these
// events. The package is a leaf: it imports only the standard library, so
// rules, handlers and plugins can depend on it without depending on the
// engine or on the protocol client.
package event

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Kind names what happened. Kinds are stable strings: rules files refer to
// them in their `on` lists.
type Kind string

// The event kinds the engine emits.
const (
	// InvitationReceived: someone invited the bot to an IM conversation.
	// Participant is the inviter; Message holds the invitation's first
	// message as a preview (the same text arrives again as the first
	// MessageReceived, which is the canonical one).
	InvitationReceived Kind = "invitation.received"
	// ConversationStarted: the bot's IM modality in a conversation is
	// connected (after accepting an invitation or starting a conversation).
	ConversationStarted Kind = "conversation.started"
	// ParticipantJoined: a participant started using the IM modality
	// (participantMessaging added). Participant.Local tells the bot itself
	// apart from a remote person.
	ParticipantJoined Kind = "participant.joined"
	// ParticipantLeft: a participant stopped using the IM modality
	// (participantMessaging deleted).
	ParticipantLeft Kind = "participant.left"
	// ParticipantUpdated: a participant's IM modality changed
	// (participantMessaging updated).
	ParticipantUpdated Kind = "participant.updated"
	// MessageReceived: a remote participant wrote a message.
	MessageReceived Kind = "message.received"
	// MessageSent: a message the bot sent was delivered.
	MessageSent Kind = "message.sent"
	// MessageFailed: a message the bot sent could not be delivered.
	MessageFailed Kind = "message.failed"
	// Typing: a remote participant started typing.
	Typing Kind = "typing"
	// ConversationEnded: the conversation is gone (either side ended it).
	ConversationEnded Kind = "conversation.ended"
	// PresenceChanged: a subscribed contact's presence changed.
	PresenceChanged Kind = "presence.changed"
	// SubscriptionExpiring: a presence subscription is about to expire.
	// The engine extends it by itself; the event lets rules observe it.
	SubscriptionExpiring Kind = "subscription.expiring"
	// MessageRequested: the notify API asked the bot to send a message
	// (Message) to a person (Participant.URI, in a new conversation) or
	// in an open conversation. The engine sends it before the rules run;
	// rules may listen to it, for example to log or forward alerts.
	MessageRequested Kind = "message.requested"
	// TimerFired: a timer a rule step set (the timer plugin) came due and
	// was not cancelled. Timer names it; Conversation and Participant are
	// those of the event that set it.
	TimerFired Kind = "timer.fired"
	// ConversationIdle: nobody wrote in the conversation for the
	// configured idle time (engine.idle_after) since its last message.
	ConversationIdle Kind = "conversation.idle"
	// ScheduleFired: the time of a rule with every or cron came; the event
	// is outside any conversation, and Timer names the rule.
	ScheduleFired Kind = "schedule.fired"
)

var kinds = []Kind{
	InvitationReceived, ConversationStarted,
	ParticipantJoined, ParticipantLeft, ParticipantUpdated,
	MessageReceived, MessageSent, MessageFailed, Typing,
	ConversationEnded, PresenceChanged, SubscriptionExpiring,
	MessageRequested, TimerFired, ConversationIdle, ScheduleFired,
}

// Kinds returns every kind the engine emits, sorted.
func Kinds() []Kind {
	out := append([]Kind(nil), kinds...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Valid reports whether k is one of the kinds the engine emits.
func (k Kind) Valid() bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// ParseKind returns the kind named s, or an error that lists the known kinds.
func ParseKind(s string) (Kind, error) {
	k := Kind(s)
	if k.Valid() {
		return k, nil
	}
	names := make([]string, 0, len(kinds))
	for _, x := range Kinds() {
		names = append(names, string(x))
	}
	return "", fmt.Errorf("unknown event kind %q (known: %s)", s, strings.Join(names, ", "))
}

// Event is one thing that happened to a bot account. Events of one
// conversation are delivered in the order the server sent them.
type Event struct {
	// ID is stable across redelivery of the same UCWA event (replay after a
	// crash or takeover); the engine deduplicates by it.
	ID string `json:"id" expr:"id"`
	// Kind says what happened.
	Kind Kind `json:"kind" expr:"kind"`
	// Account is the sign-in address of the bot account (sip:bot@example.com).
	Account string `json:"account" expr:"account"`
	// Time is when the engine received the event.
	Time time.Time `json:"time" expr:"time"`
	// Conversation the event belongs to; zero for presence events.
	Conversation Conversation `json:"conversation" expr:"conversation"`
	// Participant who acted: the inviter, the person who joined, left,
	// wrote or typed. Zero when no person is involved.
	Participant Participant `json:"participant" expr:"participant"`
	// Message carries the text of message.* and invitation.received events.
	Message Message `json:"message" expr:"message"`
	// Presence carries the new presence of presence.changed events and the
	// subscription of subscription.expiring events.
	Presence Presence `json:"presence" expr:"presence"`
	// Timer names the timer of a timer.fired event.
	Timer Timer `json:"timer,omitzero" expr:"timer"`
}

// Timer is a timer a rule step set (the timer plugin).
type Timer struct {
	// Name is the timer's name in its conversation.
	Name string `json:"name,omitempty" expr:"name"`
}

// ConversationID returns the key the engine orders and stores the event
// under: the conversation's ID, or "" for events outside a conversation.
func (e *Event) ConversationID() string { return e.Conversation.ID }

// Conversation identifies an IM conversation of the bot account.
type Conversation struct {
	// ID is the conversation's UCWA self href, opaque and stable for the
	// conversation's life.
	ID string `json:"id" expr:"id"`
	// Subject is the conversation's subject, often empty.
	Subject string `json:"subject,omitempty" expr:"subject"`
	// ThreadID is the UCWA thread id, stable across reinvitations.
	ThreadID string `json:"threadId,omitempty" expr:"thread_id"`
	// Direction is "Incoming" when someone invited the bot, "Outgoing"
	// when the bot started it.
	Direction string `json:"direction,omitempty" expr:"direction"`
}

// Participant is a person in a conversation, or a subscribed contact.
type Participant struct {
	// URI is the SIP URI (sip:alice@example.com).
	URI string `json:"uri" expr:"uri"`
	// Name is the display name when the server gave one.
	Name string `json:"name,omitempty" expr:"name"`
	// Local is true when the participant is the bot itself.
	Local bool `json:"local,omitempty" expr:"local"`
}

// Message is the text of an IM.
type Message struct {
	// Text is the plain text (CRLF line ends normalised to LF, trailing
	// line end trimmed).
	Text string `json:"text,omitempty" expr:"text"`
	// HTML is the HTML body when the sender used HTML.
	HTML string `json:"html,omitempty" expr:"html"`
	// Direction is "Incoming" or "Outgoing".
	Direction string `json:"direction,omitempty" expr:"direction"`
	// Reason explains a failed delivery (message.failed).
	Reason string `json:"reason,omitempty" expr:"reason"`
}

// Presence is a contact's availability.
type Presence struct {
	// URI of the contact.
	URI string `json:"uri,omitempty" expr:"uri"`
	// Availability: Online, Busy, DoNotDisturb, BeRightBack, Away,
	// IdleOnline, IdleBusy, Offline.
	Availability string `json:"availability,omitempty" expr:"availability"`
	// Activity is the server's activity token, when any.
	Activity string `json:"activity,omitempty" expr:"activity"`
	// Expires is when a presence subscription ends (subscription.expiring).
	Expires time.Time `json:"expires,omitempty" expr:"expires"`
}

// Available reports whether the availability lets someone take a chat.
func (p Presence) Available() bool {
	switch p.Availability {
	case "Online", "IdleOnline":
		return true
	}
	return false
}
