package bot

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestRunners_keep_a_goroutine_between_calls_and_let_a_stuck_call_keep_its_own(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		r := newRunners(ctx)
		done := make(chan int)
		for i := range 100 {
			r.run(func() { done <- i })
			if got := <-done; got != i {
				t.Fatalf("call %d ran as %d", i, got)
			}
			synctest.Wait() // the goroutine waits for the next call
		}
		if n := r.started.Load(); n != 1 {
			t.Fatalf("%d goroutines for 100 calls one after the other, want 1", n)
		}

		stuck := make(chan struct{})
		r.run(func() { <-stuck }) // an abandoned handler: it does not return
		r.run(func() { done <- -1 })
		if got := <-done; got != -1 {
			t.Fatal("the call after a stuck one did not run")
		}
		if n := r.started.Load(); n != 2 {
			t.Fatalf("%d goroutines, want 2: the stuck call keeps the first", n)
		}

		// Idle for longer than runnerIdle: the goroutine ends, and the
		// next call starts another.
		synctest.Wait()
		time.Sleep(runnerIdle + time.Second)
		synctest.Wait()
		r.run(func() { done <- -2 })
		<-done
		if n := r.started.Load(); n != 3 {
			t.Fatalf("%d goroutines after an idle spell, want 3", n)
		}
		close(stuck)
		cancel() // the end of Run ends the idle ones
		synctest.Wait()
	})
}
