package bottest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// Conv is an IM conversation between the bot and scripted people.
// Methods fail the test on error; they are meant for the test's own
// goroutine.
type Conv struct {
	b      *Bot
	sim    *ucwasim.Conversation
	from   string
	said   int // messages people said, which the bot is to handle
	cursor int // transcript index after the last expected reply
}

// Sim returns the simulator's conversation.
func (c *Conv) Sim() *ucwasim.Conversation { return c.sim }

// ID returns the engine's id of the conversation (its UCWA href), once
// the bot has handled an event of it; it waits for one.
func (c *Conv) ID() string {
	c.b.t.Helper()
	var id string
	c.b.waitFor("the bot to handle an event of conversation "+c.sim.ID(), func() bool {
		id = c.b.obs.convID(c.sim.ID())
		return id != ""
	}, c.b.obs.describe)
	return id
}

// Say makes the person who started the conversation write text.
func (c *Conv) Say(text string) *Conv {
	c.b.t.Helper()
	return c.SayAs(c.from, text)
}

// SayAs makes the person uri write text.
func (c *Conv) SayAs(uri, text string) *Conv {
	c.b.t.Helper()
	if err := c.sim.Say(uri, text); err != nil {
		c.b.t.Fatalf("bottest: %s says %q: %v", uri, text, err)
	}
	c.said++
	return c
}

// Join makes the person uri join the conversation.
func (c *Conv) Join(uri string) *Conv {
	c.b.t.Helper()
	c.b.person(uri)
	if err := c.sim.Join(uri); err != nil {
		c.b.t.Fatalf("bottest: %s joins: %v", uri, err)
	}
	return c
}

// Leave makes the person uri leave the conversation.
func (c *Conv) Leave(uri string) *Conv {
	c.b.t.Helper()
	if err := c.sim.Leave(uri); err != nil {
		c.b.t.Fatalf("bottest: %s leaves: %v", uri, err)
	}
	return c
}

// HangUp makes the person who started the conversation end it.
func (c *Conv) HangUp() {
	c.b.t.Helper()
	if err := c.sim.HangUp(c.from); err != nil {
		c.b.t.Fatalf("bottest: %s hangs up: %v", c.from, err)
	}
}

// Transcript returns everything said in the conversation, as
// "from: text" lines.
func (c *Conv) Transcript() []string {
	var out []string
	for _, m := range c.sim.Transcript() {
		out = append(out, m.From+": "+m.Text)
	}
	return out
}

// Replies returns what the bot said in the conversation, in order.
func (c *Conv) Replies() []string {
	var out []string
	for _, m := range c.sim.Transcript() {
		if isBot(m.From) {
			out = append(out, m.Text)
		}
	}
	return out
}

func isBot(uri string) bool { return strings.EqualFold(uri, BotURI) }

// ExpectReply waits until the bot says text in the conversation, after
// the replies matched by earlier Expect calls; replies in between are
// skipped. For an HTML reply, text is the HTML as sent.
func (c *Conv) ExpectReply(text string) {
	c.b.t.Helper()
	c.expect(fmt.Sprintf("the reply %q", text), func(s string) bool { return s == text })
}

// ExpectReplyContaining is ExpectReply for a reply that contains part.
func (c *Conv) ExpectReplyContaining(part string) {
	c.b.t.Helper()
	c.expect(fmt.Sprintf("a reply containing %q", part), func(s string) bool { return strings.Contains(s, part) })
}

func (c *Conv) expect(what string, match func(string) bool) {
	c.b.t.Helper()
	c.b.waitFor(what, func() bool {
		tr := c.sim.Transcript()
		for i := c.cursor; i < len(tr); i++ {
			if isBot(tr[i].From) && match(tr[i].Text) {
				c.cursor = i + 1
				return true
			}
		}
		return false
	}, c.describe)
}

// Wait waits until the bot has handled every message people said in the
// conversation so far, and written the state they changed.
func (c *Conv) Wait() {
	c.b.t.Helper()
	id := c.ID()
	c.b.waitFor(fmt.Sprintf("the bot to handle %d message(s)", c.said), func() bool {
		return c.b.obs.messages(id) >= c.said
	}, c.describe)
}

// ExpectNoReply waits until the bot handled every message said so far
// and checks that it said nothing after the replies already expected.
func (c *Conv) ExpectNoReply() {
	c.b.t.Helper()
	c.Wait()
	tr := c.sim.Transcript()
	for i := c.cursor; i < len(tr); i++ {
		if isBot(tr[i].From) {
			c.b.t.Fatalf("bottest: the bot said %q, want no reply%s", tr[i].Text, c.describe())
		}
	}
}

// ExpectEnded waits until the bot has handled the conversation's end.
func (c *Conv) ExpectEnded() {
	c.b.t.Helper()
	id := c.ID()
	c.b.waitFor("the conversation to end", func() bool {
		return c.b.obs.handledKind(id, event.ConversationEnded)
	}, c.describe)
}

// State returns the conversation's stored state, after the bot handled
// every message said so far.
func (c *Conv) State() map[string]any {
	c.b.t.Helper()
	c.Wait()
	id := c.ID()
	infos, err := c.b.Engine.Conversations(context.Background())
	if err != nil {
		c.b.t.Fatalf("bottest: conversations: %v", err)
	}
	for _, in := range infos {
		if in.ID == id {
			return event.NewState(in.State).Map()
		}
	}
	return map[string]any{}
}

// ExpectState waits until the conversation's state field holds want
// (compared as decoded JSON: numbers are float64); want nil waits for the
// field to be absent.
func (c *Conv) ExpectState(field string, want any) {
	c.b.t.Helper()
	c.Wait()
	id := c.ID()
	var got any
	var present bool
	c.b.waitFor(fmt.Sprintf("state %s = %#v", field, want), func() bool {
		infos, err := c.b.Engine.Conversations(context.Background())
		if err != nil {
			return false
		}
		got, present = nil, false
		for _, in := range infos {
			if in.ID == id {
				got, present = event.NewState(in.State).Map()[field]
			}
		}
		if want == nil {
			return !present
		}
		return present && reflect.DeepEqual(normalize(got), normalize(want))
	}, func() string { return fmt.Sprintf(" (have %#v)%s", got, c.describe()) })
}

// normalize makes a Go value comparable with a decoded JSON value: it
// encodes and decodes v, so numbers become float64, structs maps and
// slices []any.
func normalize(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return v
	}
	return out
}

// Status returns the simulator's state of the conversation: Incoming,
// Connecting, Connected or Disconnected.
func (c *Conv) Status() string { return c.sim.State() }

// Participants returns the SIP URIs of everyone in the conversation, the
// bot first; none once it is disconnected.
func (c *Conv) Participants() []string { return c.sim.Participants() }

// ExpectStatus waits until the simulator's state of the conversation is
// status: "Connected" once the bot accepted, "Disconnected" once it
// declined, left, or everybody else hung up.
func (c *Conv) ExpectStatus(status string) {
	c.b.t.Helper()
	c.b.waitFor(fmt.Sprintf("the conversation to be %s", status), func() bool {
		return c.sim.State() == status
	}, func() string { return fmt.Sprintf(" (it is %s)%s", c.sim.State(), c.describe()) })
}

// ExpectParticipant waits until the person uri is in the conversation
// (the bot invited them, for example).
func (c *Conv) ExpectParticipant(uri string) {
	c.b.t.Helper()
	c.b.waitFor(fmt.Sprintf("%s to be in the conversation", uri), func() bool {
		return slices.ContainsFunc(c.sim.Participants(), func(p string) bool { return strings.EqualFold(p, uri) })
	}, func() string { return fmt.Sprintf(" (participants %q)%s", c.sim.Participants(), c.describe()) })
}

// ExpectTranscript waits until the conversation's transcript, as
// "from: text" lines (see Transcript), is exactly want.
func (c *Conv) ExpectTranscript(want ...string) {
	c.b.t.Helper()
	c.b.waitFor(fmt.Sprintf("the transcript %q", want), func() bool {
		return slices.Equal(c.Transcript(), want)
	}, c.describe)
}

func (c *Conv) describe() string {
	return "\ntranscript:\n  " + strings.Join(c.Transcript(), "\n  ") + c.b.obs.describe()
}
