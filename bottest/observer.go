package bottest

import (
	"fmt"
	"strings"
	"sync"

	"github.com/ucwabot/ucwabot/bot/event"
)

// observer records every event the engine handled (bot.Observer).
type observer struct {
	mu     sync.Mutex
	events []handled
}

type handled struct {
	ev    event.Event
	fired []string
	err   error
}

func newObserver() *observer { return &observer{} }

// EventHandled records one handled event.
func (o *observer) EventHandled(ev event.Event, fired []string, err error) {
	o.mu.Lock()
	o.events = append(o.events, handled{ev: ev, fired: append([]string(nil), fired...), err: err})
	o.mu.Unlock()
}

func (o *observer) snapshot() []handled {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]handled(nil), o.events...)
}

// convID returns the engine's id of the simulator conversation simID: the
// UCWA href that ends with it.
func (o *observer) convID(simID string) string {
	for _, h := range o.snapshot() {
		if id := h.ev.Conversation.ID; id != "" && (id == simID || strings.HasSuffix(id, "/"+simID)) {
			return id
		}
	}
	return ""
}

// messages counts the message.received events handled in conversation id.
func (o *observer) messages(id string) int {
	n := 0
	for _, h := range o.snapshot() {
		if h.ev.Kind == event.MessageReceived && h.ev.Conversation.ID == id {
			n++
		}
	}
	return n
}

// handledKind reports whether an event of kind was handled in
// conversation id.
func (o *observer) handledKind(id string, k event.Kind) bool {
	for _, h := range o.snapshot() {
		if h.ev.Kind == k && h.ev.Conversation.ID == id {
			return true
		}
	}
	return false
}

// presence returns the last availability of uri the bot handled.
func (o *observer) presence(uri string) string {
	last := ""
	for _, h := range o.snapshot() {
		if h.ev.Kind == event.PresenceChanged && strings.EqualFold(h.ev.Presence.URI, uri) {
			last = h.ev.Presence.Availability
		}
	}
	return last
}

func (o *observer) errors() []error {
	var out []error
	for _, h := range o.snapshot() {
		if h.err != nil {
			out = append(out, h.err)
		}
	}
	return out
}

// describe lists the handled events for a failure message.
func (o *observer) describe() string {
	var b strings.Builder
	b.WriteString("\nevents handled:")
	for _, h := range o.snapshot() {
		fmt.Fprintf(&b, "\n  %s conv=%s from=%s", h.ev.Kind, h.ev.Conversation.ID, h.ev.Participant.URI)
		if h.ev.Message.Text != "" {
			fmt.Fprintf(&b, " text=%q", h.ev.Message.Text)
		}
		if h.ev.Presence.Availability != "" {
			fmt.Fprintf(&b, " presence=%s:%s", h.ev.Presence.URI, h.ev.Presence.Availability)
		}
		if len(h.fired) > 0 {
			fmt.Fprintf(&b, " rules=%v", h.fired)
		}
		if h.err != nil {
			fmt.Fprintf(&b, " error=%v", h.err)
		}
	}
	return b.String()
}
