package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// tracker times every message from its injection to the moment the
// simulator stored the bot's reply, and bounds the messages in flight. It
// sees the replies by standing in front of the simulator's HTTP handler:
// a sendMessage POST whose body is a workload reply and that the simulator
// answered 201 is a reply delivered.
type tracker struct {
	start    time.Time
	injected []atomic.Int64 // ns since start, by message id; 0: not yet
	replied  []atomic.Int64 // ns since start, by message id; 0: not yet
	dupes    atomic.Int64   // replies seen a second time
	strays   atomic.Int64   // replies naming no injected message
	n        atomic.Int64   // distinct replies seen
	slots    chan struct{}  // one per message in flight

	mu      sync.Mutex
	waiters map[int]chan struct{} // message id → closed at its reply
	changed chan struct{}         // closed and replaced at every reply
}

func newTracker(total, inflight int) *tracker {
	return &tracker{
		start:    time.Now(),
		injected: make([]atomic.Int64, total),
		replied:  make([]atomic.Int64, total),
		slots:    make(chan struct{}, inflight),
		changed:  make(chan struct{}),
	}
}

func (t *tracker) since() int64 { return int64(time.Since(t.start)) + 1 }

// acquire takes a slot for one message in flight.
func (t *tracker) acquire(ctx context.Context) error {
	select {
	case t.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// injected records that message id was said now.
func (t *tracker) inject(id int) { t.injected[id].Store(t.since()) }

// reply records the reply to message id.
func (t *tracker) reply(id int) {
	if id < 0 || id >= len(t.replied) || t.injected[id].Load() == 0 {
		t.strays.Add(1)
		return
	}
	if !t.replied[id].CompareAndSwap(0, t.since()) {
		t.dupes.Add(1)
		return
	}
	t.n.Add(1)
	select {
	case <-t.slots:
	default:
	}
	t.mu.Lock()
	close(t.changed)
	t.changed = make(chan struct{})
	t.mu.Unlock()
}

// wait waits until n distinct replies were seen, failing when none comes
// for stall.
func (t *tracker) wait(ctx context.Context, n int64, stall time.Duration) error {
	timer := time.NewTimer(stall)
	defer timer.Stop()
	for {
		t.mu.Lock()
		ch := t.changed
		t.mu.Unlock()
		got := t.n.Load()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
			if !timer.Stop() {
				<-timer.C
			}
			timer.Reset(stall)
		case <-timer.C:
			return fmt.Errorf("bench: %d of %d replies after no reply for %s", got, n, stall)
		case <-ctx.Done():
			return fmt.Errorf("bench: %d of %d replies: %w", got, n, ctx.Err())
		}
	}
}

// latencies returns reply − injection of the messages in [from, to) that
// have both, in nanoseconds.
func (t *tracker) latencies(from, to int) []int64 {
	out := make([]int64, 0, to-from)
	for i := from; i < to; i++ {
		in, re := t.injected[i].Load(), t.replied[i].Load()
		if in != 0 && re != 0 {
			out = append(out, re-in)
		}
	}
	return out
}

// span returns the time from the first injection to the last reply of the
// messages in [from, to).
func (t *tracker) span(from, to int) time.Duration {
	var first, last int64
	for i := from; i < to; i++ {
		in, re := t.injected[i].Load(), t.replied[i].Load()
		if in != 0 && (first == 0 || in < first) {
			first = in
		}
		if re > last {
			last = re
		}
	}
	return time.Duration(last - first)
}

// front wraps the simulator's handler so that the tracker sees replies.
func (t *tracker) front(sim http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Body == nil || r.ContentLength > 256 {
			sim.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 257))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		id, _, perr := parseReply(string(body))
		if perr != nil {
			sim.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		sim.ServeHTTP(sw, r)
		if sw.status == http.StatusCreated {
			t.reply(id)
		}
	})
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
