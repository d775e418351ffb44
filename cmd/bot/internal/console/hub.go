package console

import (
	"encoding/json"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ucwabot/ucwabot/bot"
	"github.com/ucwabot/ucwabot/bot/event"
)

// Bounds of what the hub keeps in memory.
const (
	// DefaultRing is how many recent traces the hub keeps.
	DefaultRing = 2000
	// maxConversations bounds the conversation table; the least recently
	// active conversation is dropped first.
	maxConversations = 20000
	// subscriberBuffer is how many traces a slow stream client may fall
	// behind before it is told it lagged and misses some.
	subscriberBuffer = 256
	// watchLinger is how long the hub keeps tracing after the last
	// console request, so that a page that reconnects finds what happened
	// meanwhile.
	watchLinger = 5 * time.Minute
)

// Hub is the engine's tracer for the console: a bounded ring of recent
// traces, the open conversations seen in them, and the stream clients. It
// traces only while someone watches: a stream client is connected, or a
// console request came within the last five minutes.
type Hub struct {
	watchers atomic.Int64
	lastSeen atomic.Int64 // unix nanoseconds of the last console request

	mu    sync.Mutex
	seq   uint64
	ring  []TraceView // circular, len = capacity
	n     int         // traces held
	convs map[string]*ConversationView
	subs  map[chan TraceView]*subscriber

	done      chan struct{} // closed by Close: streams end
	closeOnce sync.Once
}

type subscriber struct{ lagged bool }

var _ bot.Tracer = (*Hub)(nil)

// NewHub returns a hub keeping the last size traces (DefaultRing when
// size <= 0).
func NewHub(size int) *Hub {
	if size <= 0 {
		size = DefaultRing
	}
	return &Hub{ring: make([]TraceView, size), convs: map[string]*ConversationView{}, subs: map[chan TraceView]*subscriber{},
		done: make(chan struct{})}
}

// Close ends the open streams, so that the HTTP server can shut down
// without waiting for the pages watching. The hub still takes traces.
func (h *Hub) Close() { h.closeOnce.Do(func() { close(h.done) }) }

// Tracing reports whether someone watches.
func (h *Hub) Tracing() bool {
	if h.watchers.Load() > 0 {
		return true
	}
	seen := h.lastSeen.Load()
	return seen != 0 && time.Since(time.Unix(0, seen)) < watchLinger
}

// Watch makes the hub trace as if a page watched until stop is called
// (`bot bench --console watching`).
func (h *Hub) Watch() (stop func()) {
	h.watchers.Add(1)
	var once sync.Once
	return func() { once.Do(func() { h.watchers.Add(-1) }) }
}

// touch notes a console request.
func (h *Hub) touch() { h.lastSeen.Store(time.Now().UnixNano()) }

// TraceView is a trace as the console shows it.
type TraceView struct {
	Seq          uint64                     `json:"seq"`
	Account      string                     `json:"account"`
	Conversation string                     `json:"conversation"`
	EventID      string                     `json:"event_id"`
	Kind         string                     `json:"kind"`
	From         string                     `json:"from,omitempty"`
	FromName     string                     `json:"from_name,omitempty"`
	Text         string                     `json:"text,omitempty"`
	Redelivered  bool                       `json:"redelivered,omitempty"`
	Time         time.Time                  `json:"time"`
	DurationMS   float64                    `json:"duration_ms"`
	RuleSet      string                     `json:"rule_set,omitempty"`
	Evaluated    []string                   `json:"evaluated"`
	Matched      []string                   `json:"matched"`
	Steps        []StepView                 `json:"steps"`
	Replies      []string                   `json:"replies"`
	StateBefore  map[string]json.RawMessage `json:"state_before"`
	StateAfter   map[string]json.RawMessage `json:"state_after"`
	Error        string                     `json:"error,omitempty"`
}

// StepView is one handler call of a trace.
type StepView struct {
	Rule       string  `json:"rule"`
	Plugin     string  `json:"plugin"`
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error,omitempty"`
	Shadow     bool    `json:"shadow,omitempty"`
}

// ConversationView is an open conversation as the traces showed it.
type ConversationView struct {
	Account      string    `json:"account"`
	ID           string    `json:"id"`
	Participants []string  `json:"participants"`
	Events       int       `json:"events"`
	LastKind     string    `json:"last_kind"`
	LastText     string    `json:"last_text,omitempty"`
	LastEvent    time.Time `json:"last_event"`
	Errors       int       `json:"errors"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Trace takes one trace from the engine.
func (h *Hub) Trace(t *bot.Trace) {
	v := TraceView{
		Account: t.Account, Conversation: t.Conversation, EventID: t.EventID, Kind: string(t.Kind),
		From: t.From, FromName: t.FromName, Text: t.Text, Redelivered: t.Redelivered,
		Time: t.Start, DurationMS: ms(t.Duration), RuleSet: t.RuleSet,
		Evaluated: nonNil(t.Evaluated), Matched: nonNil(t.Matched), Replies: nonNil(t.Replies),
		StateBefore: t.StateBefore, StateAfter: t.StateAfter, Error: t.Err, Steps: []StepView{},
	}
	if v.StateBefore == nil {
		v.StateBefore = map[string]json.RawMessage{}
	}
	for _, s := range t.Steps {
		v.Steps = append(v.Steps, StepView{Rule: s.Rule, Plugin: s.Plugin, DurationMS: ms(s.Duration), Error: s.Err, Shadow: s.Shadow})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	v.Seq = h.seq
	h.ring[(h.seq-1)%uint64(len(h.ring))] = v
	if h.n < len(h.ring) {
		h.n++
	}
	h.noteLocked(&v)
	for ch, s := range h.subs {
		select {
		case ch <- v:
		default:
			s.lagged = true
		}
	}
}

// noteLocked updates the conversation table with a trace.
func (h *Hub) noteLocked(v *TraceView) {
	if v.Conversation == "" {
		return
	}
	key := v.Account + "\x00" + v.Conversation
	if v.Kind == string(event.ConversationEnded) {
		delete(h.convs, key)
		return
	}
	c := h.convs[key]
	if c == nil {
		if len(h.convs) >= maxConversations {
			h.evictLocked()
		}
		c = &ConversationView{Account: v.Account, ID: v.Conversation, Participants: []string{}}
		h.convs[key] = c
	}
	c.Events++
	c.LastKind, c.LastEvent = v.Kind, v.Time
	if v.Text != "" {
		c.LastText = v.Text
	}
	if v.Error != "" {
		c.Errors++
	}
	who := v.From
	if who == "" || who == v.Account {
		return
	}
	i := indexOf(c.Participants, who)
	switch {
	case v.Kind == string(event.ParticipantLeft) && i >= 0:
		c.Participants = append(c.Participants[:i], c.Participants[i+1:]...)
	case v.Kind != string(event.ParticipantLeft) && i < 0:
		c.Participants = append(c.Participants, who)
	}
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

func (h *Hub) evictLocked() {
	var oldest string
	var at time.Time
	for k, c := range h.convs {
		if oldest == "" || c.LastEvent.Before(at) {
			oldest, at = k, c.LastEvent
		}
	}
	delete(h.convs, oldest)
}

// Traces returns the kept traces after seq, oldest first, of one
// conversation when conv is not empty; at most limit of the newest.
func (h *Hub) Traces(conv string, after uint64, limit int) []TraceView {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []TraceView{}
	for s := h.seq - uint64(h.n) + 1; s <= h.seq && h.n > 0; s++ {
		v := h.ring[(s-1)%uint64(len(h.ring))]
		if v.Seq <= after || (conv != "" && v.Conversation != conv) {
			continue
		}
		out = append(out, v)
	}
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}

// Conversations lists the open conversations, most recently active first.
func (h *Hub) Conversations() []ConversationView {
	h.mu.Lock()
	out := make([]ConversationView, 0, len(h.convs))
	for _, c := range h.convs {
		cv := *c
		cv.Participants = append([]string{}, c.Participants...)
		out = append(out, cv)
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].LastEvent.Equal(out[j].LastEvent) {
			return out[i].LastEvent.After(out[j].LastEvent)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// subscribe adds a stream client; cancel removes it.
func (h *Hub) subscribe() (ch chan TraceView, lagged func() bool, cancel func()) {
	ch = make(chan TraceView, subscriberBuffer)
	s := &subscriber{}
	h.mu.Lock()
	h.subs[ch] = s
	h.mu.Unlock()
	h.watchers.Add(1)
	lagged = func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		l := s.lagged
		s.lagged = false
		return l
	}
	return ch, lagged, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
		h.watchers.Add(-1)
	}
}
