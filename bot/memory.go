package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/store"
)

// Memory beyond one conversation: the state kept per person (by SIP URI,
// across conversations: person.state in expressions, Request.Person in
// handlers) and the bot account's key/value space (kv("name"),
// Request.KV). Both live in the store's Values ("person:<uri>",
// "kv:<name>"), each with a TTL, and are written under the lease's fence.
//
// A person's state is read once per lease tenure (the fenced holder is the
// only writer) and changed field by field: an event's changes are merged
// into the cached fields and the whole record is written before the
// event completes. Two conversations of one person handled at once keep
// both their changes unless they change the same field. A crash between
// that write and the completion replays the event, which applies its
// changes again (at least once, unlike conversation state, which
// completes with the event).

func personKey(uri string) string {
	return "person:" + strings.ToLower(strings.TrimPrefix(strings.ToLower(uri), "sip:"))
}
func kvKey(name string) string { return "kv:" + name }

// personCache holds the persons' state read in this lease tenure.
type personCache struct {
	mu    sync.Mutex
	fence int64
	m     map[string]store.Fields // personKey → fields
}

// personOf returns the event's remote participant, "" when none.
func personOf(ev *event.Event) string {
	if ev.Participant.Local || ev.Participant.URI == "" {
		return ""
	}
	return ev.Participant.URI
}

// loadPerson returns a copy of the person's state.
func (a *account) loadPerson(ctx context.Context, uri string) (store.Fields, error) {
	key, fence := personKey(uri), a.fence()
	c := &a.persons
	c.mu.Lock()
	if c.fence != fence || c.m == nil {
		c.fence, c.m = fence, map[string]store.Fields{}
	}
	if f, ok := c.m[key]; ok {
		c.mu.Unlock()
		return maps.Clone(f), nil
	}
	c.mu.Unlock()
	b, err := a.e.store.GetValue(ctx, a.addr, key)
	f := store.Fields{}
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("bot: state of %s: %w", uri, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fence == fence {
		if cached, ok := c.m[key]; ok {
			return maps.Clone(cached), nil // another worker read it meanwhile
		}
		c.m[key] = f
	}
	return maps.Clone(f), nil
}

// savePerson merges the changes of st into the person's state and writes it.
func (a *account) savePerson(ctx context.Context, uri string, st *event.State) error {
	set, deleted := st.Changes()
	if len(set) == 0 && len(deleted) == 0 {
		return nil
	}
	key, fence := personKey(uri), a.fence()
	c := &a.persons
	c.mu.Lock()
	f := maps.Clone(c.m[key])
	if f == nil || c.fence != fence {
		f = store.Fields{}
	}
	maps.Copy(f, set)
	for _, k := range deleted {
		delete(f, k)
	}
	if c.fence == fence && c.m != nil {
		c.m[key] = f
	}
	c.mu.Unlock()
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return a.storeRetry(ctx, "person state", func() error {
		return a.e.store.SetValue(ctx, a.addr, fence, key, b, a.e.cfg.PersonTTL)
	})
}

// kv is an account's key/value space for handlers (handlers.KV). Once
// the engine abandoned the handler (off), writes are refused.
type kv struct {
	a   *account
	off *atomic.Bool
}

var _ handlers.KV = kv{}

func (k kv) abandoned() bool { return k.off != nil && k.off.Load() }

func (k kv) Get(ctx context.Context, name string, v any) (bool, error) {
	b, err := k.a.e.store.GetValue(ctx, k.a.addr, kvKey(name))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("kv %q: %w", name, err)
	}
	return true, nil
}

func (k kv) Set(ctx context.Context, name string, v any, ttl time.Duration) error {
	if k.abandoned() {
		return ErrHandlerAbandoned
	}
	if name == "" {
		return errors.New("kv: empty name")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("kv %q: %w", name, err)
	}
	if ttl <= 0 {
		ttl = k.a.e.cfg.KVTTL
	}
	return k.a.e.store.SetValue(ctx, k.a.addr, k.a.fence(), kvKey(name), b, ttl)
}

func (k kv) Delete(ctx context.Context, name string) error {
	if k.abandoned() {
		return ErrHandlerAbandoned
	}
	return k.a.e.store.DeleteValue(ctx, k.a.addr, k.a.fence(), kvKey(name))
}

// read is kv("name") in expressions: the value, decoded.
func (k kv) read(ctx context.Context) func(name string) (any, bool) {
	return func(name string) (any, bool) {
		var v any
		ok, err := k.Get(ctx, name, &v)
		if err != nil {
			k.a.log.WithError(err).WithField("kv", name).Warn("kv read")
			return nil, false
		}
		return v, ok
	}
}
