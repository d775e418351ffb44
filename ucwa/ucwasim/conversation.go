package ucwasim

import (
	"context"
	"fmt"
	"time"
)

// Message is one instant message of a conversation, by the bot or a person.
type Message struct {
	Conversation string    // conversation id
	From         string    // sip URI of the author (the bot or a person)
	Text         string    // plain text, or HTML as sent when ContentType is text/html
	ContentType  string    // text/plain or text/html
	OperationID  string    // the sender's operationId (bot messages)
	Time         time.Time // simulated time it was said
	// Undelivered is set on a person's message the bot did not pick up through its event
	// channel within 30 simulated seconds; the sender was told it was not delivered.
	Undelivered bool
}

// Conversation is an IM conversation between the bot and scripted people.
type Conversation struct {
	s   *Server
	app *application
	id  string
	bot *user
	// peer is the person who invited the bot (incoming) or whom the bot invited (outgoing).
	peer      *user
	direction string // Incoming or Outgoing (the bot's point of view)
	state     string // Incoming, Connecting, Connected, Disconnected
	invState  string // Connecting, Connected, Failed, Declined, Cancelled
	inv       string // messaging invitation id
	threadID  string
	subject   string
	opID      string // operationId of an outgoing invitation
	first     string // first message text (invitation preview)
	invited   time.Time

	members    []*member // remote participants present
	transcript []Message
	held       []int // transcript indexes said before the bot accepted
	pendingOut string
	invTimer   *timer        // an outgoing invitation's 30 s rule (janitor.go)
	changed    chan struct{} // closed when the transcript grows; made by the first waiter
}

// member is a remote participant and whether it uses the IM modality.
type member struct {
	u       *user
	inIM    bool
	removed bool
}

// Invite starts an incoming IM from the person from to the bot to, with firstMessage as the
// invitation's text; the bot sees the ReceiveAnIM event sequence. The bot must have an
// application that made itself available.
//
// When the bot has no available application yet (it is signing in, or recreating its
// application after a fault), Invite waits up to Options.InviteWait for one.
func (s *Server) Invite(from, to, firstMessage string) (*Conversation, error) {
	var deadline <-chan time.Time
	if s.opt.InviteWait > 0 {
		t := time.NewTimer(s.opt.InviteWait)
		defer t.Stop()
		deadline = t.C
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fu, tu := s.users[normURI(from)], s.users[normURI(to)]
	if fu == nil || tu == nil {
		return nil, fmt.Errorf("ucwasim: invite %s → %s: %w", from, to, ErrUnknownUser)
	}
	a := s.activeApp(tu.uri)
	for a == nil && deadline != nil {
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			deadline = nil
		case <-s.closing:
			deadline = nil
		}
		s.mu.Lock()
		a = s.activeApp(tu.uri)
	}
	if a == nil {
		return nil, fmt.Errorf("ucwasim: invite %s: %w", tu.uri, ErrNotAvailable)
	}
	c := s.newConversationLocked(a, fu, "Incoming")
	c.state, c.invState, c.first = "Incoming", "Connecting", firstMessage
	c.members = []*member{{u: fu}}
	preview := -1
	if firstMessage != "" {
		_, preview = c.addMessageLocked(Message{From: fu.uri, Text: firstMessage, ContentType: "text/plain"})
	}
	comm, cp := c.commPath(), c.path()
	// The invitation carries the first message: should the invitation be dropped before
	// any P-GET fetched it (a resume, the application gone), the sender is told it was not
	// delivered.
	a.events.emitQueued(&queued{sender: "communication", senderHref: comm, conv: c, msg: -1, preview: preview, ev: event{
		"link":      lk2("messagingInvitation", c.invPath()),
		"_embedded": map[string]any{"messagingInvitation": c.invitationResource(true)},
		"type":      "started",
	}})
	a.events.emit("communication", comm, event{
		"link":      lk2("conversation", cp),
		"_embedded": map[string]any{"conversation": c.conversationResource()},
		"type":      "added",
	})
	a.events.emit("conversation", cp, event{
		"link":      lk3("localParticipant", c.partPath(tu.uri), tu.name),
		"_embedded": map[string]any{"localParticipant": c.localParticipantResource()},
		"type":      "added",
	})
	a.events.emit("conversation", cp, event{"link": lk3("participant", c.partPath(fu.uri), fu.name), "type": "added"})
	a.events.emit("communication", comm, event{
		"link":      lk2("messagingInvitation", c.invPath()),
		"_embedded": map[string]any{"messagingInvitation": c.invitationResource(false)},
		"type":      "updated",
	})
	return c, nil
}

// newConversationLocked registers a conversation of application a.
func (s *Server) newConversationLocked(a *application, peer *user, direction string) *Conversation {
	c := &Conversation{
		s: s, app: a, id: s.newID(), bot: a.user, peer: peer, direction: direction,
		inv: s.newID(), threadID: randID(12), invited: s.clock.now(),
	}
	a.convs[c.id] = c
	a.invs[c.inv] = c
	s.convs[c.id] = c
	s.byBot[c.bot] = append(s.byBot[c.bot], c)
	return c
}

// addMessageLocked appends m to the transcript and wakes transcript waiters. Messages are
// numbered from 1 in transcript order: message n is transcript[n-1].
func (c *Conversation) addMessageLocked(m Message) (n, idx int) {
	m.Conversation = c.id
	m.Time = c.s.clock.now()
	c.transcript = append(c.transcript, m)
	idx = len(c.transcript) - 1
	if m.From == c.bot.uri {
		c.s.sent[c.bot] = append(c.s.sent[c.bot], msgRef{c, idx})
	}
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
	return idx + 1, idx
}

// emitIncomingLocked queues the message event for transcript index idx (subject to the 30 s rule).
func (c *Conversation) emitIncomingLocked(idx int) {
	n, now := idx+1, c.s.clock.now()
	c.s.armStaleLocked(c.app, now)
	c.app.events.emitQueued(&queued{
		sender: "conversation", senderHref: c.path(), conv: c, msg: idx, preview: -1, at: now,
		ev: event{
			"link":      lk2("message", c.msgPath()+"/messages/"+itoa(int64(n))),
			"status":    "Success",
			"_embedded": map[string]any{"message": c.messageResource(n)},
			"type":      "completed",
		},
	})
}

// ID returns the conversation id (the last segment of its href).
func (c *Conversation) ID() string { return c.id }

// State returns the conversation state: Incoming, Connecting, Connected or Disconnected.
func (c *Conversation) State() string {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.state
}

// Participants returns the sip URIs of everyone in the conversation, the bot first.
func (c *Conversation) Participants() []string {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.state == "Disconnected" {
		return nil
	}
	out := []string{c.bot.uri}
	for _, m := range c.members {
		out = append(out, m.u.uri)
	}
	return out
}

// Transcript returns everything said in the conversation, by anyone, in order.
func (c *Conversation) Transcript() []Message {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return append([]Message(nil), c.transcript...)
}

// Conversations returns the conversations of the bot botURI, including ended ones and the ones
// the bot started, in creation order.
func (s *Server) Conversations(botURI string) []*Conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[normURI(botURI)]
	if u == nil {
		return nil
	}
	return append([]*Conversation(nil), s.byBot[u]...)
}

// Conversation returns the conversation with the given id (as ID returns it), incoming or
// started by the bot, live or ended; nil when there is none.
func (s *Server) Conversation(id string) *Conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.convs[id]
}

// Sent returns every message the bot botURI sent, in order.
func (s *Server) Sent(botURI string) []Message { return s.SentFrom(botURI, 0) }

// SentFrom returns the messages the bot botURI sent after its first from messages, in order:
// a reader that remembers how many it has read gets only the new ones.
func (s *Server) SentFrom(botURI string, from int) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	refs := s.sent[s.users[normURI(botURI)]]
	if from < 0 {
		from = 0
	}
	if from >= len(refs) {
		return nil
	}
	out := make([]Message, 0, len(refs)-from)
	for _, r := range refs[from:] {
		out = append(out, r.c.transcript[r.idx])
	}
	return out
}

// msgRef points at a message in a conversation's transcript.
type msgRef struct {
	c   *Conversation
	idx int
}

// WaitTranscript waits until c's transcript holds at least n messages and returns it.
func (s *Server) WaitTranscript(ctx context.Context, c *Conversation, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		if len(c.transcript) >= n {
			out := append([]Message(nil), c.transcript...)
			s.mu.Unlock()
			return out, nil
		}
		if c.changed == nil {
			c.changed = make(chan struct{})
		}
		ch := c.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return c.Transcript(), fmt.Errorf("ucwasim: wait for %d messages in %s: %w", n, c.id, ctx.Err())
		case <-s.closing:
			return c.Transcript(), fmt.Errorf("ucwasim: wait for %d messages in %s: %w", n, c.id, ErrClosed)
		}
	}
}

// broadcastLocked wakes everyone waiting for an application's availability to change.
func (s *Server) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}
