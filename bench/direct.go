package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ucwabot/ucwabot/bot"
	"github.com/ucwabot/ucwabot/ucwa"
)

// TransportDirect is the engine without the HTTP layers: sign-in, the
// conversations and one priming message per conversation go through the
// simulator over loopback HTTP, then the loaded phase's event channel and
// sendMessage are served from memory (bot.WithEventWire). Its events are
// copies of the ones the simulator sent for each conversation's priming
// message and reply, with a message and text of their own, never encoded
// to JSON. What is measured is the engine itself: translation, the
// inbox, the workers, the rules, the handler, the state and the group
// commit, with the same store round trips as over HTTP.
const TransportDirect = "direct"

// directWire passes the event path to the simulator until on is called,
// learning from each conversation's first incoming and outgoing message
// events; then it serves the event path itself.
type directWire struct {
	next bot.EventWire
	tr   *tracker

	mu       sync.Mutex
	direct   bool
	switched chan struct{}          // closed by on
	in, out  map[string]*ucwa.Event // conversation href → its first incoming / outgoing message event
	queue    []ucwa.Event
	wake     chan struct{} // a send when queue gains events
	batches  int           // the number of the last batch handed out
	last     *ucwa.Batch   // that batch, for a P-GET that asks for it again
	msgs     int
	replies  map[string][]string // conversation id → the replies sent directly, in order
}

func newDirectWire(next bot.EventWire, tr *tracker) *directWire {
	return &directWire{
		next: next, tr: tr,
		switched: make(chan struct{}),
		in:       map[string]*ucwa.Event{}, out: map[string]*ucwa.Event{},
		wake:    make(chan struct{}, 1),
		replies: map[string][]string{},
	}
}

// directPrefix starts the event channel hrefs the wire hands out.
const directPrefix = "direct:events?ack="

// on switches to serving the event path from memory. The P-GET the
// engine has outstanding with the simulator is answered with an empty
// batch whose next link is the wire's own.
func (w *directWire) on() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.direct {
		w.direct = true
		close(w.switched)
	}
}

// conversations maps the id of every conversation with an incoming
// message known (the last segment of its href) to its href.
func (w *directWire) conversations() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]string, len(w.in))
	for href := range w.in {
		out[path.Base(href)] = href
	}
	return out
}

// templates tells how many conversations have both message events known.
func (w *directWire) templates() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for conv := range w.in {
		if w.out[conv] != nil {
			n++
		}
	}
	return n
}

func (w *directWire) Poll(ctx context.Context, href string, timeout time.Duration) (*ucwa.Batch, error) {
	if strings.HasPrefix(href, directPrefix) {
		return w.pollDirect(ctx, href, timeout)
	}
	type answer struct {
		b   *ucwa.Batch
		err error
	}
	got := make(chan answer, 1)
	go func() {
		b, err := w.next.Poll(ctx, href, timeout)
		got <- answer{b, err}
	}()
	select {
	case a := <-got:
		if a.err == nil {
			w.learn(a.b)
		}
		return a.b, a.err
	case <-w.switched:
		// The simulator's answer to this P-GET, if one comes, is dropped:
		// the phase before the switch ended with the inbox empty.
		return &ucwa.Batch{Self: href, Next: directPrefix + "1"}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// learn keeps each conversation's first incoming and outgoing message
// events.
func (w *directWire) learn(b *ucwa.Batch) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range b.Events {
		ev := &b.Events[i]
		if ev.Link.Rel != "message" || ev.Resource == nil || ev.SenderHref == "" {
			continue
		}
		m := w.in
		if ev.Resource.String("direction") == "Outgoing" {
			m = w.out
		}
		if m[ev.SenderHref] == nil {
			c := *ev
			m[ev.SenderHref] = &c
		}
	}
}

func (w *directWire) pollDirect(ctx context.Context, href string, timeout time.Duration) (*ucwa.Batch, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(href, directPrefix))
	if err != nil {
		return nil, fmt.Errorf("bench: direct event channel: bad href %q", href)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		w.mu.Lock()
		if n == w.batches && w.last != nil {
			// Asked again (the engine could not store it): the same
			// batch, as the server answers the same ack.
			b := w.last
			w.mu.Unlock()
			return b, nil
		}
		if len(w.queue) > 0 {
			break // holds the lock
		}
		w.mu.Unlock()
		select {
		case <-w.wake:
		case <-t.C:
			// An empty answer moves the channel on, as a timed-out P-GET does.
			return w.answer(href, n, nil), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	evs := w.queue
	w.queue = nil
	w.mu.Unlock()
	return w.answer(href, n, evs), nil
}

// answer makes batch n of evs and remembers it.
func (w *directWire) answer(href string, n int, evs []ucwa.Event) *ucwa.Batch {
	b := &ucwa.Batch{Self: href, Next: directPrefix + strconv.Itoa(n+1), Events: evs}
	w.mu.Lock()
	w.batches, w.last = n, b
	w.mu.Unlock()
	return b
}

// say queues person's message text in the conversation, as the
// simulator's event for it would read.
func (w *directWire) say(conv, text string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	tmpl := w.in[conv]
	if tmpl == nil {
		return fmt.Errorf("bench: direct: no incoming message known in %s", conv)
	}
	ev := w.message(tmpl)
	ev.Resource.Links["plainMessage"] = []ucwa.Link{{Rel: "plainMessage", Href: "data:text/plain;charset=utf-8," + url.QueryEscape(text)}}
	w.push(ev)
	return nil
}

func (w *directWire) SendMessage(ctx context.Context, href, contentType, text, operationID string) (loc string, err error) {
	w.mu.Lock()
	direct := w.direct
	w.mu.Unlock()
	if !direct {
		return w.next.SendMessage(ctx, href, contentType, text, operationID)
	}
	// The server's side of the call, not the engine's.
	labelled(ctx, partSimulator, func(context.Context) { loc, err = w.sendDirect(href, text, operationID) })
	return loc, err
}

func (w *directWire) sendDirect(href, text, operationID string) (string, error) {
	conv, _, ok := strings.Cut(href, "/messaging")
	if !ok {
		return "", fmt.Errorf("bench: direct: sendMessage link %q is not under a conversation's messaging", href)
	}
	w.mu.Lock()
	tmpl := w.out[conv]
	if tmpl == nil {
		w.mu.Unlock()
		return "", fmt.Errorf("bench: direct: no outgoing message known in %s", conv)
	}
	ev := w.message(tmpl)
	op, _ := json.Marshal(operationID)
	ev.Resource.Props["operationId"] = op
	w.push(ev)
	id := path.Base(conv)
	w.replies[id] = append(w.replies[id], text)
	w.mu.Unlock()
	if id, _, err := parseReply(text); err == nil {
		w.tr.reply(id)
	}
	return ev.Link.Href, nil
}

// message copies a message event under a message href of its own; the
// lock is held.
func (w *directWire) message(tmpl *ucwa.Event) ucwa.Event {
	w.msgs++
	ev := *tmpl
	dir := tmpl.Link.Href[:strings.LastIndexByte(tmpl.Link.Href, '/')+1]
	href := dir + "d" + strconv.Itoa(w.msgs)
	ev.Link.Href = href
	r := *tmpl.Resource
	r.Links = maps.Clone(r.Links)
	r.Links["self"] = []ucwa.Link{{Rel: "self", Href: href}}
	r.Props = maps.Clone(r.Props)
	ev.Resource = &r
	return ev
}

// push queues ev for the next poll; the lock is held.
func (w *directWire) push(ev ucwa.Event) {
	w.queue = append(w.queue, ev)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// repliesSent counts the replies sent from memory.
func (w *directWire) repliesSent() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, rs := range w.replies {
		n += len(rs)
	}
	return n
}

// sentDirectly returns the replies sent in conversation id from memory.
func (w *directWire) sentDirectly(id string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.replies[id]
}
