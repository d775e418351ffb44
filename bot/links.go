package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ucwabot/ucwabot/ucwa"
)

// convLinks are the hrefs the engine follows in one conversation. UCWA
// links are followed, never built: each comes from an event (the
// invitation's accept/decline, messaging's sendMessage...) or from a GET
// of the conversation.
type convLinks struct {
	Self           string   `json:"self,omitempty"`
	Messaging      string   `json:"messaging,omitempty"`
	SendMessage    string   `json:"sendMessage,omitempty"`
	SetIsTyping    string   `json:"setIsTyping,omitempty"`
	StopMessaging  string   `json:"stopMessaging,omitempty"`
	AddParticipant string   `json:"addParticipant,omitempty"`
	Accept         string   `json:"accept,omitempty"`
	Decline        string   `json:"decline,omitempty"`
	Formats        []string `json:"formats,omitempty"`
	Subject        string   `json:"subject,omitempty"`
	ThreadID       string   `json:"threadId,omitempty"`
	Direction      string   `json:"direction,omitempty"`
}

// merge copies the non-empty fields of o into l.
func (l *convLinks) merge(o convLinks) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&l.Self, o.Self)
	set(&l.Messaging, o.Messaging)
	set(&l.SendMessage, o.SendMessage)
	set(&l.SetIsTyping, o.SetIsTyping)
	set(&l.StopMessaging, o.StopMessaging)
	set(&l.AddParticipant, o.AddParticipant)
	set(&l.Accept, o.Accept)
	set(&l.Decline, o.Decline)
	set(&l.Subject, o.Subject)
	set(&l.ThreadID, o.ThreadID)
	set(&l.Direction, o.Direction)
	if len(o.Formats) > 0 {
		l.Formats = o.Formats
	}
}

// equal reports whether l and o hold the same links.
func (l convLinks) equal(o convLinks) bool {
	return l.Self == o.Self && l.Messaging == o.Messaging && l.SendMessage == o.SendMessage &&
		l.SetIsTyping == o.SetIsTyping && l.StopMessaging == o.StopMessaging &&
		l.AddParticipant == o.AddParticipant && l.Accept == o.Accept && l.Decline == o.Decline &&
		l.Subject == o.Subject && l.ThreadID == o.ThreadID && l.Direction == o.Direction &&
		slices.Equal(l.Formats, o.Formats)
}

// sum is a 64-bit hash of the links, to tell a change without keeping a
// copy.
func (l convLinks) sum() uint64 {
	h := fnvOffset
	for _, f := range [...]string{l.Self, l.Messaging, l.SendMessage, l.SetIsTyping, l.StopMessaging,
		l.AddParticipant, l.Accept, l.Decline, l.Subject, l.ThreadID, l.Direction} {
		h = fnvString(h, f, 0)
	}
	for _, f := range l.Formats {
		h = fnvString(h, f, 1)
	}
	return h
}

// FNV-1a, 64 bits (hash/fnv's New64a), over strings without copying them.
const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

// fnvString hashes s and then the byte end into h.
func fnvString(h uint64, s string, end byte) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	h ^= uint64(end)
	return h * fnvPrime
}

// linkCache holds the links of an account's conversations, keyed by the
// conversation's self href. It is shared by the poller (which fills it)
// and the workers (which read it), hence the lock.
type linkCache struct {
	mu    sync.Mutex
	convs map[string]*linkEntry
}

// linkEntry is a conversation's links, packed, with their sum.
type linkEntry struct {
	links convLinks
	sum   uint64
}

func newLinkCache() *linkCache { return &linkCache{convs: map[string]*linkEntry{}} }

// The cache keeps a link under the conversation's href as its suffix
// (marked by a leading NUL): a conversation's links share that long
// prefix, and the cache holds them for every open conversation.

func (l *convLinks) urls() [7]*string {
	return [7]*string{&l.Messaging, &l.SendMessage, &l.SetIsTyping, &l.StopMessaging, &l.AddParticipant, &l.Accept, &l.Decline}
}

// pack replaces the links under l.Self with their marked suffixes.
func (l *convLinks) pack() {
	for _, f := range l.urls() {
		if len(*f) > len(l.Self) && l.Self != "" && strings.HasPrefix(*f, l.Self) {
			*f = "\x00" + (*f)[len(l.Self):]
		}
	}
}

// unpack is the inverse of pack. The links it makes whole share one
// allocation: a copy is read for every reply.
func (l *convLinks) unpack() {
	var fields [7]*string
	n, size := 0, 0
	for _, f := range l.urls() {
		if strings.HasPrefix(*f, "\x00") {
			fields[n] = f
			n++
			size += len(l.Self) + len(*f) - 1
		}
	}
	if n == 0 {
		return
	}
	var b strings.Builder
	b.Grow(size)
	for _, f := range fields[:n] {
		b.WriteString(l.Self)
		b.WriteString((*f)[1:])
	}
	all, at := b.String(), 0
	for _, f := range fields[:n] {
		end := at + len(l.Self) + len(*f) - 1
		*f = all[at:end]
		at = end
	}
}

// get returns a copy of the conversation's links.
func (c *linkCache) get(conv string) (convLinks, bool) {
	c.mu.Lock()
	l, ok := c.convs[conv]
	var out convLinks
	if ok {
		out = l.links
	}
	c.mu.Unlock()
	out.unpack()
	return out, ok
}

// linkMeta is what every event of a conversation reads from its links.
type linkMeta struct {
	Subject, ThreadID, Direction string
	// Sum is the links' sum (convLinks.sum).
	Sum uint64
}

// meta returns the conversation's subject, thread and direction and the
// sum of its links, without making the links whole.
func (c *linkCache) meta(conv string) (linkMeta, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.convs[conv]
	if !ok {
		return linkMeta{}, false
	}
	return linkMeta{Subject: l.links.Subject, ThreadID: l.links.ThreadID, Direction: l.links.Direction, Sum: l.sum}, true
}

// has tells whether the cache holds links of the conversation.
func (c *linkCache) has(conv string) bool {
	c.mu.Lock()
	_, ok := c.convs[conv]
	c.mu.Unlock()
	return ok
}

// update changes the conversation's links under the lock and returns a copy.
func (c *linkCache) update(conv string, fn func(*convLinks)) convLinks {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.convs[conv]
	if !ok {
		e = &linkEntry{links: convLinks{Self: conv}}
		c.convs[conv] = e
	}
	e.links.unpack()
	fn(&e.links)
	out := e.links
	e.sum = out.sum()
	e.links.pack()
	return out
}

func (c *linkCache) remove(conv string) {
	c.mu.Lock()
	delete(c.convs, conv)
	c.mu.Unlock()
}

func (c *linkCache) reset() {
	c.mu.Lock()
	c.convs = map[string]*linkEntry{}
	c.mu.Unlock()
}

func (c *linkCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.convs)
}

// messagingLinks sets the links a messaging resource lists; links absent
// from it are no longer valid (PROTOCOL.md 8.1) and are cleared.
func (l *convLinks) messagingLinks(r *ucwa.Resource) {
	if r == nil {
		return
	}
	if s := r.Self(); s != "" {
		l.Messaging = s
	}
	l.SendMessage = r.Links.Href("sendMessage")
	l.SetIsTyping = r.Links.Href("setIsTyping")
	l.StopMessaging = r.Links.Href("stopMessaging")
	if f := r.Strings("negotiatedMessageFormats"); len(f) > 0 {
		l.Formats = f
	}
}

// conversationLinks sets what a conversation resource tells.
func (l *convLinks) conversationLinks(r *ucwa.Resource) {
	if r == nil {
		return
	}
	if h := r.Links.Href("messaging"); h != "" {
		l.Messaging = h
	}
	if h := r.Links.Href("addParticipant"); h != "" {
		l.AddParticipant = h
	}
	if s := r.String("subject"); s != "" {
		l.Subject = s
	}
	if s := r.String("threadId"); s != "" {
		l.ThreadID = s
	}
}

// resolve returns the conversation's links, reading the conversation and
// its messaging from the server when the send link is not known (after a
// restart, a resync or an application recreated).
func (c *linkCache) resolve(ctx context.Context, client *ucwa.Client, conv string) (convLinks, error) {
	if l, ok := c.get(conv); ok && l.SendMessage != "" {
		return l, nil
	}
	r, err := client.Get(ctx, conv)
	if err != nil {
		return convLinks{}, fmt.Errorf("read conversation %s: %w", conv, err)
	}
	l := c.update(conv, func(l *convLinks) { l.conversationLinks(r) })
	if l.Messaging == "" {
		return l, nil
	}
	m, err := client.Get(ctx, l.Messaging)
	if err != nil {
		return l, fmt.Errorf("read messaging of %s: %w", conv, err)
	}
	return c.update(conv, func(l *convLinks) { l.messagingLinks(m) }), nil
}
