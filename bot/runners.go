package bot

import (
	"context"
	"sync/atomic"
	"time"
)

// runnerIdle is how long a handler goroutine waits for another call
// before it ends.
const runnerIdle = 30 * time.Second

// runners run handler calls on goroutines kept between calls. Each call
// needs a goroutine of its own, so that a handler that does not return
// can be abandoned (callHandler); a goroutine made for every call grows
// its stack anew every time, one kept grows it once. An abandoned call
// keeps its goroutine, and the next call gets another.
type runners struct {
	ctx     context.Context // when it ends, idle goroutines end
	jobs    chan func()     // unbuffered: a send is taken only by an idle goroutine
	started atomic.Int64    // goroutines started
}

func newRunners(ctx context.Context) *runners {
	return &runners{ctx: ctx, jobs: make(chan func())}
}

// run runs f on an idle goroutine, or on a new one when none is idle.
func (r *runners) run(f func()) {
	select {
	case r.jobs <- f:
	default:
		r.started.Add(1)
		go r.loop(f)
	}
}

func (r *runners) loop(f func()) {
	idle := time.NewTimer(runnerIdle)
	defer idle.Stop()
	for {
		f()
		idle.Reset(runnerIdle)
		select {
		case f = <-r.jobs:
		case <-idle.C:
			return
		case <-r.ctx.Done():
			return
		}
	}
}
