package demo

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// transcript prints the demo as it happens: what the people do (→), the
// events the bot handled with the rules that fired ([kind]), and what the
// bot said (←). It is the engine's observer, called from its workers.
type transcript struct {
	sim *ucwasim.Server

	mu      sync.Mutex
	out     io.Writer
	printed int       // bot messages already printed
	events  int       // events handled so far
	echoes  int       // message.sent events handled: the server's echo of a bot message
	last    time.Time // when the last event was handled
	errs    []error   // handler errors seen
}

func newTranscript(out io.Writer, sim *ucwasim.Server) *transcript {
	return &transcript{out: out, sim: sim}
}

// quiet kinds are printed only when a rule fired for them.
var quiet = map[event.Kind]bool{
	event.MessageSent:          true,
	event.Typing:               true,
	event.ParticipantUpdated:   true,
	event.PresenceChanged:      true,
	event.SubscriptionExpiring: true,
}

// EventHandled implements bot.Observer.
func (t *transcript) EventHandled(ev event.Event, fired []string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events++
	if ev.Kind == event.MessageSent {
		t.echoes++
	}
	t.last = time.Now()
	local := ev.Participant.Local
	if len(fired) > 0 || (!quiet[ev.Kind] && !local) {
		line := fmt.Sprintf("   [%s]%s", ev.Kind, describe(ev))
		if len(fired) > 0 {
			line += "  rules: " + strings.Join(fired, ", ")
		}
		fmt.Fprintln(t.out, line)
	}
	if err != nil {
		t.errs = append(t.errs, err)
		fmt.Fprintf(t.out, "   handler error: %v\n", err)
	}
	// What the bot said while handling ev, printed below ev's line: the
	// only place bot messages are printed, so a reply never stands above
	// the event that caused it.
	t.flushLocked()
}

// said prints what a person did.
func (t *transcript) said(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.out, "→ "+format+"\n", args...)
}

// flushLocked prints the bot's messages not printed yet.
func (t *transcript) flushLocked() {
	sent := t.sim.Sent(botURI)
	for _, m := range sent[min(t.printed, len(sent)):] {
		fmt.Fprintf(t.out, "← Helpdesk: %s\n", oneLine(m.Text))
	}
	t.printed = len(sent)
}

// progress returns how many events were handled, when the last was, and
// how many bot messages were sent and not yet echoed back as handled
// message.sent events.
func (t *transcript) progress() (events int, last time.Time, unechoed int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.events, t.last, len(t.sim.Sent(botURI)) - t.echoes
}

func describe(ev event.Event) string {
	var b strings.Builder
	if p := ev.Participant; p.Name != "" || p.URI != "" {
		name := p.Name
		if name == "" {
			name = p.URI
		}
		b.WriteString(" " + name)
	}
	if m := ev.Message; m.Text != "" {
		fmt.Fprintf(&b, ": %q", oneLine(m.Text))
	}
	if pr := ev.Presence; pr.URI != "" {
		fmt.Fprintf(&b, " %s is %s", pr.URI, pr.Availability)
	}
	return b.String()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
