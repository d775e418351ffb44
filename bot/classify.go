package bot

import (
	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/ucwa"
)

// Rels of the UCWA event links the engine reacts to.
const (
	relCommunication        = "communication"
	relConversation         = "conversation"
	relPeople               = "people"
	relMe                   = "me"
	relMessagingInvitation  = "messagingInvitation"
	relMessaging            = "messaging"
	relMessage              = "message"
	relParticipant          = "participant"
	relLocalParticipant     = "localParticipant"
	relParticipantMessaging = "participantMessaging"
	relTypingParticipants   = "typingParticipants"
	relContactPresence      = "contactPresence"
	relPresenceSubscription = "presenceSubscription"
	relPresence             = "presence"
)

// succeeded reports whether a completed operation's status means success
// (anything but Success/Succeeded is a failure, PROTOCOL.md 8.6).
func succeeded(status string) bool { return status == "Success" || status == "Succeeded" }

// direction returns the embedded resource's direction, or "".
func direction(ev *ucwa.Event) string {
	if ev.Resource == nil {
		return ""
	}
	return ev.Resource.String("direction")
}

// classify names the domain event kind one UCWA event yields, or "" when
// it yields none. It looks at this event only; the translator adds what
// needs context (the first message delivered once, participant identity).
func classify(ev *ucwa.Event) event.Kind {
	rel := ev.Link.Rel
	switch {
	case rel == relMessagingInvitation:
		switch ev.Type {
		case "started":
			if direction(ev) != "Outgoing" {
				return event.InvitationReceived
			}
		case "completed":
			if succeeded(ev.Status) {
				return event.ConversationStarted
			}
			if direction(ev) == "Outgoing" {
				return event.MessageFailed
			}
		}
	case rel == relParticipantMessaging:
		switch ev.Type {
		case "added":
			return event.ParticipantJoined
		case "deleted":
			return event.ParticipantLeft
		case "updated":
			return event.ParticipantUpdated
		}
	case rel == relMessage:
		if ev.Type != "started" && ev.Type != "completed" {
			return ""
		}
		if direction(ev) == "Outgoing" {
			if ev.Type == "started" {
				return ""
			}
			if succeeded(ev.Status) {
				return event.MessageSent
			}
			return event.MessageFailed
		}
		if ev.Type == "completed" && ev.Status != "" && !succeeded(ev.Status) {
			return ""
		}
		return event.MessageReceived
	case rel == relParticipant && ev.In.Rel == relTypingParticipants:
		if ev.Type == "added" {
			return event.Typing
		}
	case rel == relConversation && ev.Sender == relCommunication:
		if ev.Type == "deleted" {
			return event.ConversationEnded
		}
	case rel == relContactPresence:
		if ev.Type == "updated" || ev.Type == "added" {
			return event.PresenceChanged
		}
	case rel == relPresenceSubscription:
		if ev.Type == "updated" {
			return event.SubscriptionExpiring
		}
	}
	return ""
}
