package bot

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/store"
)

func TestQueue_keeps_order_within_a_conversation_and_runs_conversations_in_parallel(t *testing.T) {
	q := newQueue()
	const convs, per, workers = 20, 50, 4
	var mu sync.Mutex
	seen := map[string][]int{}
	running := map[string]bool{}
	overlap := false
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				key, j, ok := q.take()
				if !ok {
					return
				}
				mu.Lock()
				if running[key] {
					overlap = true
				}
				running[key] = true
				mu.Unlock()
				time.Sleep(time.Microsecond)
				var n int
				fmt.Sscanf(j.entry.ID, "%d", &n)
				mu.Lock()
				seen[key] = append(seen[key], n)
				running[key] = false
				mu.Unlock()
				q.done(key)
			}
		}()
	}
	for i := 0; i < per; i++ {
		for c := 0; c < convs; c++ {
			q.push(fmt.Sprintf("c%d", c), job{entry: store.Entry{ID: fmt.Sprint(i)}})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.idle(ctx); err != nil {
		t.Fatalf("queue never became idle: %v", err)
	}
	q.close()
	wg.Wait()
	if overlap {
		t.Fatal("two jobs of one conversation ran at the same time")
	}
	for c := 0; c < convs; c++ {
		got := seen[fmt.Sprintf("c%d", c)]
		if len(got) != per {
			t.Fatalf("conversation c%d handled %d jobs, want %d", c, len(got), per)
		}
		for i, n := range got {
			if n != i {
				t.Fatalf("conversation c%d handled job %d at position %d", c, n, i)
			}
		}
	}
	if d := q.depth(); d != 0 {
		t.Fatalf("depth after idle = %d", d)
	}
}

func TestQueue_drops_the_waiting_jobs_of_one_account(t *testing.T) {
	q := newQueue()
	a, b := &account{}, &account{}
	q.push("a1", job{acct: a})
	q.push("a1", job{acct: a})
	q.push("b1", job{acct: b})
	q.dropAccount(a)
	if d := q.depth(); d != 1 {
		t.Fatalf("depth after drop = %d, want 1", d)
	}
	key, j, ok := q.take()
	if !ok || key != "b1" || j.acct != b {
		t.Fatalf("take = %q %v %v, want b1's job", key, j.acct == b, ok)
	}
	q.done(key)
	q.close()
	if _, _, ok := q.take(); ok {
		t.Fatal("take after close returned a job")
	}
}
