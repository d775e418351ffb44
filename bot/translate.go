package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/ucwa"
)

// envelope is what the inbox stores for one domain event: the event and
// the links its conversation had when it was read, so that a replay after
// a restart can still reply.
type envelope struct {
	Event event.Event `json:"event"`
	Links convLinks   `json:"links,omitempty"`

	// lazyLinks: Links were left out by translate, the conversation's
	// links in the cache summing to linksSum; the poller puts them in
	// when the inbox does not hold them yet.
	lazyLinks bool
	linksSum  uint64
}

// fetchFunc reads a resource the event did not embed; nil when offline
// (bot decode).
type fetchFunc func(ctx context.Context, href string) (*ucwa.Resource, error)

// translator turns UCWA event batches into domain events for one account.
// It remembers what later events need: the links of each conversation
// and participants' identities.
type translator struct {
	account string
	links   *linkCache
	fetch   fetchFunc
	now     func() time.Time

	mu           sync.Mutex
	participants map[string]event.Participant // by participant href (under its conversation's href)
}

func newTranslator(account string, links *linkCache, fetch fetchFunc) *translator {
	return &translator{
		account:      account,
		links:        links,
		fetch:        fetch,
		now:          time.Now,
		participants: map[string]event.Participant{},
	}
}

// reset forgets every conversation (resume: the server dropped them).
func (t *translator) reset() {
	t.mu.Lock()
	t.participants = map[string]event.Participant{}
	t.mu.Unlock()
	t.links.reset()
}

// forget drops the participants of a conversation that ended: their
// hrefs lie under the conversation's href.
func (t *translator) forget(conv string) {
	prefix := strings.TrimSuffix(conv, "/") + "/"
	t.mu.Lock()
	for href := range t.participants {
		if strings.HasPrefix(href, prefix) {
			delete(t.participants, href)
		}
	}
	t.mu.Unlock()
}

// eventID is a stable id for dedupe: the same UCWA event redelivered in
// the same batch gets the same id.
func eventID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// errFetch: a resource an event did not embed could not be read; the
// batch is not stored and its P-GET is sent again.
var errFetch = errors.New("read a resource the event did not embed")

// translate returns the domain events of a batch, in server order. It
// fails with errFetch when a resource a domain event needs could not be
// read (a resource the server no longer has is not an error).
func (t *translator) translate(ctx context.Context, b *ucwa.Batch) ([]envelope, error) {
	out := make([]envelope, 0, len(b.Events))
	now := t.now()
	for i := range b.Events {
		ev := &b.Events[i]
		t.learn(ctx, ev)
		kind := classify(ev)
		if kind == "" {
			continue
		}
		env, ok, err := t.build(ctx, ev, kind, b.Self, i, now)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		out = append(out, env)
	}
	return out, nil
}

// get reads the resource at href for an event that did not embed it: nil
// without an error when offline or when the server no longer has it.
func (t *translator) get(ctx context.Context, href string) (*ucwa.Resource, error) {
	if t.fetch == nil {
		return nil, nil
	}
	r, err := t.fetch(ctx, href)
	if err != nil {
		if s := statusOf(err); (s == 404 || s == 410) && !errors.Is(err, ucwa.ErrApplicationGone) {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: %s: %w", errFetch, href, err)
	}
	return r, nil
}

// learn updates the caches from any event, domain event or not.
func (t *translator) learn(ctx context.Context, ev *ucwa.Event) {
	r := ev.Resource
	switch ev.Link.Rel {
	case relMessagingInvitation:
		if r == nil {
			return
		}
		conv := r.Links.Href(relConversation)
		if conv == "" {
			return
		}
		t.links.update(conv, func(l *convLinks) {
			if h := r.Links.Href(relMessaging); h != "" {
				l.Messaging = h
			}
			if ev.Type == "started" {
				l.Accept = r.Links.Href("accept")
				l.Decline = r.Links.Href("decline")
				l.Direction = r.String("direction")
				if s := r.String("subject"); s != "" {
					l.Subject = s
				}
				if s := r.String("threadId"); s != "" {
					l.ThreadID = s
				}
			}
		})
		if from := r.First("from"); from != nil {
			t.rememberParticipant(from)
		}
	case relMessaging:
		if ev.Sender == relConversation && r != nil {
			t.links.update(ev.SenderHref, func(l *convLinks) { l.messagingLinks(r) })
		}
	case relConversation:
		if ev.Sender == relCommunication && ev.Type != "deleted" {
			t.links.update(ev.Link.Href, func(l *convLinks) { l.conversationLinks(r) })
		}
	case relParticipant, relLocalParticipant:
		if r != nil && ev.In.Rel != relTypingParticipants {
			t.rememberParticipant(r)
		}
	}
}

func (t *translator) rememberParticipant(r *ucwa.Resource) {
	self := r.Self()
	if self == "" {
		return
	}
	p := event.Participant{URI: r.String("uri"), Name: r.String("name")}
	if v, ok := r.Bool("local"); ok && v {
		p.Local = true
	}
	t.mu.Lock()
	old := t.participants[self]
	if p.URI == "" {
		p.URI = old.URI
	}
	if p.Name == "" {
		p.Name = old.Name
	}
	p.Local = p.Local || old.Local
	t.participants[self] = p
	t.mu.Unlock()
}

// participant resolves a participant's identity from its href: the cache,
// then a GET, then the address the href ends with.
func (t *translator) participant(ctx context.Context, href, title string) event.Participant {
	t.mu.Lock()
	p := t.participants[href]
	t.mu.Unlock()
	if p.URI == "" {
		p.URI = uriFromHref(href)
	}
	if p.URI == "" && href != "" && t.fetch != nil {
		if r, err := t.fetch(ctx, href); err == nil {
			t.rememberParticipant(r)
			t.mu.Lock()
			p = t.participants[href]
			t.mu.Unlock()
		}
	}
	if p.URI == "" {
		p.URI = uriFromHref(href)
	}
	if p.Name == "" {
		p.Name = title
	}
	return p
}

// uriFromHref returns the SIP URI a participant or contact href ends with
// (".../participants/lenea@contoso.com"), or "".
func uriFromHref(href string) string {
	u, err := url.Parse(href)
	if err != nil {
		return ""
	}
	seg := path.Base(u.Path)
	if seg == "messaging" || seg == "presence" {
		seg = path.Base(path.Dir(u.Path))
	}
	if !strings.Contains(seg, "@") {
		return ""
	}
	if strings.HasPrefix(strings.ToLower(seg), "sip:") {
		return seg
	}
	return "sip:" + seg
}

// build makes the domain event of one classified UCWA event.
func (t *translator) build(ctx context.Context, ev *ucwa.Event, kind event.Kind, batchSelf string, index int, now time.Time) (env envelope, ok bool, err error) {
	e := event.Event{Kind: kind, Account: t.account, Time: now}
	pos := batchSelf + "#" + strconv.Itoa(index)
	e.ID = eventID(t.account, string(kind), ev.Link.Href, ev.Type, pos)
	r := ev.Resource
	switch kind {
	case event.InvitationReceived:
		if r == nil {
			if r, err = t.get(ctx, ev.Link.Href); err != nil {
				return envelope{}, false, err
			}
		}
		if r == nil {
			return envelope{}, false, nil
		}
		if r.String("direction") == "Outgoing" {
			return envelope{}, false, nil
		}
		e.ID = eventID(t.account, string(kind), ev.Link.Href)
		e.Conversation.ID = r.Links.Href(relConversation)
		if from := r.First("from"); from != nil {
			t.rememberParticipant(from)
			e.Participant = t.participant(ctx, from.Self(), from.String("name"))
		} else if l, ok := r.Links.First("from"); ok {
			e.Participant = t.participant(ctx, l.Href, l.Title)
		}
		if m := r.Links.Href(relMessage); m != "" {
			// A preview: the same text arrives again as the first
			// message.received, the canonical one, delivered once.
			e.Message = messageText(m, "")
		}
		e.Message.Direction = "Incoming"
	case event.ConversationStarted, event.MessageFailed:
		if ev.Link.Rel == relMessagingInvitation {
			if r == nil {
				if r, err = t.get(ctx, ev.Link.Href); err != nil {
					return envelope{}, false, err
				}
			}
			if r != nil {
				e.Conversation.ID = r.Links.Href(relConversation)
			}
			if kind == event.MessageFailed && ev.Reason != nil {
				e.Message.Reason = reasonText(ev.Reason)
				e.Message.Direction = "Outgoing"
			}
			e.ID = eventID(t.account, string(kind), ev.Link.Href)
			break
		}
		fallthrough
	case event.MessageReceived, event.MessageSent:
		if r == nil {
			if r, err = t.get(ctx, ev.Link.Href); err != nil {
				return envelope{}, false, err
			}
		}
		e.Conversation.ID = ev.SenderHref
		e.ID = eventID(t.account, string(kind), ev.Link.Href)
		if r == nil {
			break
		}
		e.Message.Direction = r.String("direction")
		if kind == event.MessageReceived && e.Message.Direction == "Outgoing" {
			return envelope{}, false, nil
		}
		e.Message = messageText(r.Links.Href("plainMessage"), r.Links.Href("htmlMessage"))
		e.Message.Direction = r.String("direction")
		if kind == event.MessageFailed && ev.Reason != nil {
			e.Message.Reason = reasonText(ev.Reason)
		}
		if l, ok := r.Links.First(relParticipant); ok {
			e.Participant = t.participant(ctx, l.Href, l.Title)
		}
	case event.ParticipantJoined, event.ParticipantLeft, event.ParticipantUpdated:
		e.Conversation.ID = ev.SenderHref
		href, title := ev.In.Href, ev.In.Title
		if href == "" && r != nil {
			if l, ok := r.Links.First(relParticipant); ok {
				href, title = l.Href, l.Title
			}
		}
		e.Participant = t.participant(ctx, href, title)
		e.Participant.Local = ev.In.Rel == relLocalParticipant
	case event.Typing:
		e.Conversation.ID = ev.SenderHref
		e.Participant = t.participant(ctx, ev.Link.Href, ev.Link.Title)
	case event.ConversationEnded:
		e.Conversation.ID = ev.Link.Href
		e.ID = eventID(t.account, string(kind), ev.Link.Href)
	case event.PresenceChanged:
		contact := ev.In.Href
		e.Participant.URI = uriFromHref(ev.Link.Href)
		if contact != "" {
			e.Participant.URI = uriFromHref(contact)
		}
		e.Presence.URI = e.Participant.URI
		if r == nil {
			if r, err = t.get(ctx, ev.Link.Href); err != nil {
				return envelope{}, false, err
			}
		}
		if r != nil {
			e.Presence.Availability = r.String("availability")
			e.Presence.Activity = r.String("activity")
		}
	case event.SubscriptionExpiring:
		if r != nil {
			if exp, ok := r.Time("expirationTime"); ok {
				e.Presence.Expires = exp
			}
		}
	}
	env = envelope{Event: e}
	if id := e.Conversation.ID; id != "" {
		m, _ := t.links.meta(id)
		e.Conversation.Subject = m.Subject
		e.Conversation.ThreadID = m.ThreadID
		e.Conversation.Direction = m.Direction
		if kind == event.MessageReceived || kind == event.MessageSent {
			// The most frequent events: their links are made whole only
			// when the inbox needs them (see account.slimLinks).
			return envelope{Event: e, linksSum: m.Sum, lazyLinks: true}, true, nil
		}
		l, _ := t.links.get(id)
		env = envelope{Event: e, Links: l}
		if kind == event.ConversationEnded {
			t.links.remove(id)
			t.forget(id)
		}
	}
	return env, true, nil
}

// messageText decodes a message's data URIs.
func messageText(plain, html string) event.Message {
	var m event.Message
	if plain != "" {
		if _, text, err := ucwa.DecodeDataURI(plain); err == nil {
			m.Text = normalizeText(text)
		}
	}
	if html != "" {
		if _, text, err := ucwa.DecodeDataURI(html); err == nil {
			m.HTML = text
			if m.Text == "" {
				m.Text = normalizeText(stripTags(text))
			}
		}
	}
	return m
}

func normalizeText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.TrimRight(s, "\r\n")
}

// stripTags removes HTML tags for the plain-text view of an HTML message.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func reasonText(r *ucwa.Reason) string {
	parts := []string{}
	for _, s := range []string{r.Code, r.Subcode, r.Message} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ": ")
}
