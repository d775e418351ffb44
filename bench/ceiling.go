package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// CeilingGoroutines is how many goroutines the one-round-trip ceiling
// runs; CeilingPipeline is the pipelined ceiling's batch.
const (
	CeilingGoroutines = 64
	CeilingPipeline   = 256
)

// Ceiling is what raw go-redis does with the workload's state writes.
type Ceiling struct {
	MsgsPerSec float64 `json:"msgs_per_sec"`
	CPUPerMsg  float64 `json:"cpu_us_per_msg"`
}

// ceilingOneTrip runs messages HINCRBYs, one per round trip, from
// CeilingGoroutines goroutines, over the conversations' keys.
func ceilingOneTrip(ctx context.Context, rdb *redis.Client, prefix string, messages, convs int) (Ceiling, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, CeilingGoroutines)
	cpu0 := cpuTime()
	start := time.Now()
	for g := 0; g < CeilingGoroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= messages {
					return
				}
				if err := rdb.HIncrBy(ctx, prefix+strconv.Itoa(i%convs), countField, 1).Err(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	cpu := cpuTime() - cpu0
	close(errs)
	if err := <-errs; err != nil {
		return Ceiling{}, fmt.Errorf("bench: ceiling HINCRBY: %w", err)
	}
	return Ceiling{MsgsPerSec: float64(messages) / d.Seconds(), CPUPerMsg: us(cpu) / float64(messages)}, nil
}

// ceilingPipelined runs messages HINCRBYs from one goroutine in pipelines
// of CeilingPipeline commands.
func ceilingPipelined(ctx context.Context, rdb *redis.Client, prefix string, messages, convs int) (Ceiling, error) {
	cpu0 := cpuTime()
	start := time.Now()
	for i := 0; i < messages; {
		p := rdb.Pipeline()
		for j := 0; j < CeilingPipeline && i < messages; j, i = j+1, i+1 {
			p.HIncrBy(ctx, prefix+strconv.Itoa(i%convs), countField, 1)
		}
		if _, err := p.Exec(ctx); err != nil {
			return Ceiling{}, fmt.Errorf("bench: ceiling pipelined HINCRBY: %w", err)
		}
	}
	d := time.Since(start)
	cpu := cpuTime() - cpu0
	return Ceiling{MsgsPerSec: float64(messages) / d.Seconds(), CPUPerMsg: us(cpu) / float64(messages)}, nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
