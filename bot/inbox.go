package bot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
)

// The inbox holds one entry per domain event. Its payload is a lean JSON
// form of the envelope: short keys, empty parts left out, and neither the
// account (the inbox is the account's) nor the conversation id (the
// entry's Conversation) repeated. A payload of the earlier form
// ({"event":…,"links":…}) is still read, so an inbox written before an
// upgrade replays.

// entryVersion is the payload form encodeEntry writes.
const entryVersion = 2

type wireEntry struct {
	V     int                `json:"v"`
	ID    string             `json:"i"`
	Kind  event.Kind         `json:"k"`
	Time  int64              `json:"t,omitempty"` // unix nanoseconds
	Conv  *wireConv          `json:"c,omitempty"`
	Part  *event.Participant `json:"p,omitempty"`
	Msg   *event.Message     `json:"m,omitempty"`
	Pres  *event.Presence    `json:"r,omitempty"`
	Links *convLinks         `json:"l,omitempty"`
	Timer string             `json:"tm,omitempty"`
}

type wireConv struct {
	Subject   string `json:"s,omitempty"`
	ThreadID  string `json:"th,omitempty"`
	Direction string `json:"d,omitempty"`
}

// encodeEntry returns env's inbox payload.
func encodeEntry(env *envelope) ([]byte, error) {
	ev := &env.Event
	w := wireEntry{V: entryVersion, ID: ev.ID, Kind: ev.Kind, Timer: ev.Timer.Name}
	if !ev.Time.IsZero() {
		w.Time = ev.Time.UnixNano()
	}
	if c := ev.Conversation; c.Subject != "" || c.ThreadID != "" || c.Direction != "" {
		w.Conv = &wireConv{Subject: c.Subject, ThreadID: c.ThreadID, Direction: c.Direction}
	}
	if ev.Participant != (event.Participant{}) {
		w.Part = &ev.Participant
	}
	if ev.Message != (event.Message{}) {
		w.Msg = &ev.Message
	}
	if ev.Presence != (event.Presence{}) {
		w.Pres = &ev.Presence
	}
	if !env.Links.equal(convLinks{}) {
		l := env.Links
		if l.Self == ev.Conversation.ID {
			l.Self = "" // the entry's conversation
		}
		w.Links = &l
	}
	return json.Marshal(&w)
}

// decodeEntry reads an inbox payload of account's entry in conversation
// conv.
func decodeEntry(payload []byte, account, conv string) (envelope, error) {
	var env envelope
	if bytes.HasPrefix(payload, []byte(`{"event"`)) {
		err := json.Unmarshal(payload, &env)
		return env, err
	}
	var w wireEntry
	if err := json.Unmarshal(payload, &w); err != nil {
		return env, err
	}
	if w.V != entryVersion {
		return env, fmt.Errorf("inbox entry form %d, want %d", w.V, entryVersion)
	}
	ev := &env.Event
	ev.ID, ev.Kind, ev.Account, ev.Timer.Name = w.ID, w.Kind, account, w.Timer
	if w.Time != 0 {
		ev.Time = time.Unix(0, w.Time)
	}
	ev.Conversation.ID = conv
	if w.Conv != nil {
		ev.Conversation.Subject, ev.Conversation.ThreadID, ev.Conversation.Direction = w.Conv.Subject, w.Conv.ThreadID, w.Conv.Direction
	}
	if w.Part != nil {
		ev.Participant = *w.Part
	}
	if w.Msg != nil {
		ev.Message = *w.Msg
	}
	if w.Pres != nil {
		ev.Presence = *w.Pres
	}
	if w.Links != nil {
		env.Links = *w.Links
		if env.Links.Self == "" {
			env.Links.Self = conv
		}
	}
	return env, nil
}

// handoff passes the envelopes the poller just stored to the workers of
// the same process, keyed by entry ID, so that an entry is decoded from
// its payload only when it comes from elsewhere (a replay, another
// instance). It holds at most max envelopes.
type handoff struct {
	mu   sync.Mutex
	envs map[string]envelope
	max  int
}

func (h *handoff) put(id string, env envelope) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.envs == nil {
		h.envs = map[string]envelope{}
	}
	if len(h.envs) < h.max {
		h.envs[id] = env
	}
}

func (h *handoff) take(id string) (envelope, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	env, ok := h.envs[id]
	if ok {
		delete(h.envs, id)
	}
	return env, ok
}

func (h *handoff) reset() {
	h.mu.Lock()
	h.envs = nil
	h.mu.Unlock()
}
