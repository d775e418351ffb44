package bot

import (
	"context"
	"errors"
	"net/http"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/ucwa"
)

// An incoming invitation carries the person's first message. The server
// delivers that message again as the conversation's first
// message.received once the bot accepts; until then the invitation is its
// only copy. When the invitation is gone before the bot could accept it —
// its application died, a resume tore the conversations down, the person
// gave up waiting — the accept is refused with 404 (or 410), no
// conversation follows and the message would go unanswered. The engine
// then answers it as a message.received of its own (answerPreview) whose
// replies reach the person as new IMs.
//
// A replayed invitation event cannot tell from a 404 alone whether an
// earlier run's accept reached the server and its conversation has been
// torn down since. It answers the first message all the same, and notes
// in the conversation's state, in the same completion, that it did
// (previewKey): should the server still deliver the first message in that
// conversation, the event is skipped there, so the person gets one answer.

// previewKey is the conversation state field that holds the first message
// answered from a gone invitation.
const previewKey = "_ucwabot_invitation_message"

// invitationGone reports whether err refuses an invitation's answer
// because the invitation no longer exists.
func invitationGone(err error) bool {
	if errors.Is(err, ucwa.ErrApplicationGone) {
		return true
	}
	s := statusOf(err)
	return s == http.StatusNotFound || s == http.StatusGone
}

// previewAnswered reports whether ev is the server's delivery of a first
// message that was answered from its gone invitation already. The note
// goes with the conversation's first message either way.
func previewAnswered(ev *event.Event, st *event.State) bool {
	if ev.Kind != event.MessageReceived || ev.Message.Direction == "Outgoing" {
		return false
	}
	var text string
	if ok, err := st.Get(previewKey, &text); !ok || err != nil {
		return false
	}
	st.Delete(previewKey)
	return text == ev.Message.Text
}

// previewEventID is the id of the message.received made of an
// invitation's first message: stable across replays of the invitation,
// so that its replies' operation ids are too.
func previewEventID(account, invitationID string) string {
	return eventID(account, string(event.MessageReceived), "preview", invitationID)
}

// answerPreview runs the rules for the first message of inv, an
// invitation that is gone, in the state of its conversation; the replies
// go to the person as new IMs.
func (a *account) answerPreview(ctx context.Context, log logrus.FieldLogger, inv *event.Event, st *event.State, rp replay) ([]string, error) {
	ev := *inv
	ev.Kind = event.MessageReceived
	ev.ID = previewEventID(a.addr, inv.ID)
	log = log.WithFields(logrus.Fields{"event": ev.ID, "kind": ev.Kind, "invitation": inv.ID})
	log.Info("invitation gone before it was accepted; answering its first message in a new IM")
	rp.convGone = true
	if err := st.Set(previewKey, ev.Message.Text); err != nil {
		return nil, err
	}
	// Its trace shows the state changes only: the invitation's own trace
	// has the state before.
	tr := a.startTrace(&ev, nil, rp)
	fired, err := a.runRules(ctx, log, &ev, convLinks{}, st, rp, tr)
	set, deleted := st.Changes()
	tr.finish(fired, set, deleted, err)
	return fired, err
}
