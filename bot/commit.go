package bot

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/ucwabot/ucwabot/store"
)

// maxGroup bounds the completions one round trip writes.
const maxGroup = 256

// stateCacheIdle is how long a conversation's state stays cached after
// its last event; one that comes back later is read from the store again.
const stateCacheIdle = 10 * time.Minute

// completion is a handled inbox entry waiting to be written, with what
// to do once it is (ok) or cannot be (the lease was lost, the engine is
// stopping: the entry stays in the inbox and is replayed).
type completion struct {
	c     store.Completion
	after func(ok bool)
}

// committer writes an account's completions in groups: one round trip
// completes every entry handled while the previous group was being
// written (group commit). Whoever submits while no write is under way
// writes the group, and keeps writing while more arrive; the others return
// at once. An entry's conversation stays busy until its completion is
// written, so one conversation's events still run one at a time, in order.
type committer struct {
	a *account

	mu      sync.Mutex
	queue   []completion
	writing bool
}

// submit queues c; the caller writes the queue when no write is under way.
func (cm *committer) submit(ctx context.Context, c completion) {
	cm.mu.Lock()
	cm.queue = append(cm.queue, c)
	if cm.writing {
		cm.mu.Unlock()
		return
	}
	cm.writing = true
	for len(cm.queue) > 0 {
		n := min(len(cm.queue), maxGroup)
		group := cm.queue[:n:n]
		cm.queue = cm.queue[n:]
		cm.mu.Unlock()
		cm.write(ctx, group)
		cm.mu.Lock()
	}
	cm.queue = nil
	cm.writing = false
	cm.mu.Unlock()
}

// write commits a group, in runs of completions that carry the same fence
// (a group straddles a new lease tenure only at its edge).
func (cm *committer) write(ctx context.Context, group []completion) {
	for len(group) > 0 {
		n := 1
		for n < len(group) && group[n].c.Fence == group[0].c.Fence {
			n++
		}
		cm.writeRun(ctx, group[:n])
		group = group[n:]
	}
}

func (cm *committer) writeRun(ctx context.Context, run []completion) {
	a := cm.a
	cs := make([]store.Completion, len(run))
	for i, c := range run {
		cs[i] = c.c
	}
	err := a.storeRetry(ctx, "complete", func() error {
		start := time.Now()
		err := a.e.store.CompleteBatch(ctx, a.addr, cs)
		a.e.met.storeLatency.WithLabelValues("complete").Observe(time.Since(start).Seconds())
		return err
	})
	if errors.Is(err, store.ErrFenced) {
		a.log.WithError(err).Error("completion refused: lease lost")
		a.states.reset()
		a.leaseLost()
	}
	for _, c := range run {
		if err == nil {
			a.states.apply(c.c)
		}
		c.after(err == nil)
	}
}

// stateCache holds the state of the conversations an account's lease
// tenure has handled. The lease holder is the only writer of its
// account's state, so what it wrote is what the store holds: each
// conversation is read from the store once per tenure (fence), and idle
// conversations are dropped so that memory follows the open ones.
type stateCache struct {
	idle time.Duration

	mu    sync.Mutex
	fence int64
	convs map[string]*cachedState
	swept time.Time
}

type cachedState struct {
	fields store.Fields
	used   time.Time
}

func newStateCache(idle time.Duration) *stateCache {
	return &stateCache{idle: idle, convs: map[string]*cachedState{}}
}

// get returns a copy of the conversation's cached fields under fence.
func (c *stateCache) get(fence int64, conv string) (store.Fields, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fence != fence {
		return nil, false
	}
	s, ok := c.convs[conv]
	if !ok {
		return nil, false
	}
	s.used = time.Now()
	return maps.Clone(s.fields), true
}

// put caches fields read from the store under fence.
func (c *stateCache) put(fence int64, conv string, f store.Fields) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fence != fence {
		if fence < c.fence {
			return
		}
		c.fence, c.convs = fence, map[string]*cachedState{}
	}
	if f == nil {
		f = store.Fields{}
	}
	now := time.Now()
	c.convs[conv] = &cachedState{fields: maps.Clone(f), used: now}
	c.sweepLocked(now)
}

// apply changes the cache as a written completion changed the store.
func (c *stateCache) apply(comp store.Completion) {
	conv := comp.Entry.Conversation
	if conv == "" || (len(comp.Set) == 0 && len(comp.Delete) == 0) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.convs[conv]
	if c.fence != comp.Fence || !ok {
		return
	}
	for k, v := range comp.Set {
		s.fields[k] = v
	}
	for _, k := range comp.Delete {
		delete(s.fields, k)
	}
}

// drop forgets a conversation (it ended, or its state was dropped).
func (c *stateCache) drop(conv string) {
	c.mu.Lock()
	delete(c.convs, conv)
	c.mu.Unlock()
}

// reset forgets everything (the lease was lost).
func (c *stateCache) reset() {
	c.mu.Lock()
	c.convs = map[string]*cachedState{}
	c.mu.Unlock()
}

// sweepLocked drops conversations idle for longer than c.idle, at most
// once per idle/4.
func (c *stateCache) sweepLocked(now time.Time) {
	if now.Sub(c.swept) < c.idle/4 {
		return
	}
	c.swept = now
	for conv, s := range c.convs {
		if now.Sub(s.used) > c.idle {
			delete(c.convs, conv)
		}
	}
}
