package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"sync"
	"testing"
)

// burn does a fixed amount of CPU work, whatever the machine's load.
func burn(mb int) {
	buf := make([]byte, 1<<20)
	for i := 0; i < mb; i++ {
		buf[0] = byte(i)
		sum := sha256.Sum256(buf)
		buf[1] = sum[0]
	}
}

func TestProfiler_splits_the_CPU_by_the_part_of_each_goroutine(t *testing.T) {
	p := &profiler{file: true}
	if err := p.start(); err != nil {
		t.Skipf("the test binary is being profiled already (go test -cpuprofile): %v", err)
	}
	var wg sync.WaitGroup
	work := map[string]int{partBot: 600, partSimulator: 150}
	for part, mb := range work {
		wg.Add(1)
		go labelled(context.Background(), part, func(context.Context) {
			defer wg.Done()
			burn(mb)
		})
	}
	wg.Wait()
	s, err := p.stop()
	if err != nil {
		t.Fatal(err)
	}
	if s.Bot == 0 || s.Simulator == 0 || s.Bot <= s.Simulator {
		t.Fatalf("split = %+v: want both parts sampled, the bot (4× the work) more than the simulator", s)
	}
	if share := s.botShare(); share <= 0.5 || share >= 1 {
		t.Errorf("bot share = %.2f of %+v, want between 0.5 and 1", share, s)
	}
	var out bytes.Buffer
	if err := p.write(&out); err != nil || out.Len() == 0 {
		t.Errorf("merged profile: %d bytes, %v", out.Len(), err)
	}
}

func TestProfiler_a_process_already_profiled_has_no_split(t *testing.T) {
	outer := &profiler{}
	if err := outer.start(); err != nil {
		t.Skipf("the test binary is being profiled already (go test -cpuprofile): %v", err)
	}
	defer outer.stop()
	p := &profiler{}
	if err := p.start(); err == nil {
		t.Fatal("a second CPU profile started while one runs")
	}
	if s, err := p.stop(); err != nil || s.total() != 0 {
		t.Errorf("stop of a profile never started = %+v, %v; want nothing and no error", s, err)
	}
}
