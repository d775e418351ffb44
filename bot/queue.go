package bot

import (
	"context"
	"sync"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/store"
)

// job is one inbox entry of one account, waiting for a worker.
type job struct {
	acct  *account
	entry store.Entry
	// lease is the lease tenure the entry was read in (account.leaseCtx):
	// its handlers stop when the tenure ends.
	lease context.Context
	// note, when set, is an event that has no inbox entry (the bot's own
	// message coming back, which no rule listens to): the job only tells
	// the observer, in its conversation's order.
	note *event.Event
}

// convQueue orders the jobs of one conversation: at most one of its jobs
// is being handled at any time.
type convQueue struct {
	jobs   []job
	active bool
}

// queue hands jobs to a bounded pool of workers, in order per
// conversation and in parallel across conversations, without a goroutine
// per conversation: a conversation with waiting jobs and none running sits
// once in the ready list; a worker takes it, handles its oldest job, and
// puts it back when more are waiting.
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond // a conversation became ready, or the queue closed: wakes one worker
	still  *sync.Cond // the queue may have become idle: wakes idle's waiters
	convs  map[string]*convQueue
	ready  []string
	closed bool
	busy   int
}

func newQueue() *queue {
	q := &queue{convs: map[string]*convQueue{}}
	q.cond = sync.NewCond(&q.mu)
	q.still = sync.NewCond(&q.mu)
	return q
}

// push adds a job behind the jobs of the same conversation key.
func (q *queue) push(key string, j job) {
	q.mu.Lock()
	defer q.mu.Unlock()
	c := q.convs[key]
	if c == nil {
		c = &convQueue{}
		q.convs[key] = c
	}
	c.jobs = append(c.jobs, j)
	if !c.active && len(c.jobs) == 1 {
		q.ready = append(q.ready, key)
		q.cond.Signal()
	}
}

// take blocks until a conversation is ready and returns its oldest job;
// ok is false once the queue is closed.
func (q *queue) take() (key string, j job, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.ready) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return "", job{}, false
	}
	key = q.ready[0]
	q.ready = q.ready[1:]
	c := q.convs[key]
	j = c.jobs[0]
	c.jobs = c.jobs[1:]
	c.active = true
	q.busy++
	return key, j, true
}

// done ends the running job of key and makes the conversation ready again
// when more jobs wait.
func (q *queue) done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.busy--
	c := q.convs[key]
	c.active = false
	if len(c.jobs) > 0 {
		q.ready = append(q.ready, key)
		q.cond.Signal()
	} else {
		delete(q.convs, key)
	}
	if q.busy == 0 && len(q.ready) == 0 {
		q.still.Broadcast()
	}
}

// dropAccount removes the waiting jobs of an account (lease lost, account
// stopped) and returns their entry IDs; jobs already running finish.
func (q *queue) dropAccount(a *account) []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var dropped []string
	for key, c := range q.convs {
		kept := c.jobs[:0]
		for _, j := range c.jobs {
			if j.acct != a {
				kept = append(kept, j)
			} else {
				dropped = append(dropped, j.entry.ID)
			}
		}
		c.jobs = kept
		if len(c.jobs) == 0 && !c.active {
			delete(q.convs, key)
		}
	}
	ready := q.ready[:0]
	for _, k := range q.ready {
		if c, ok := q.convs[k]; ok && len(c.jobs) > 0 {
			ready = append(ready, k)
		}
	}
	q.ready = ready
	if q.busy == 0 && len(q.ready) == 0 {
		q.still.Broadcast()
	}
	return dropped
}

// idle waits until no job is waiting or running, or ctx ends.
func (q *queue) idle(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.still.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for (len(q.ready) > 0 || q.busy > 0) && ctx.Err() == nil {
		q.still.Wait()
	}
	return ctx.Err()
}

// depth is the number of jobs waiting or running.
func (q *queue) depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.busy
	for _, c := range q.convs {
		n += len(c.jobs)
	}
	return n
}

// close wakes every worker; take returns false from then on.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.still.Broadcast()
	q.mu.Unlock()
}
