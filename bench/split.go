package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime/pprof"

	"github.com/google/pprof/profile"
)

// The parts of the process a run's CPU is split into. The simulator and
// the harness (the people saying messages, the reply tracker) run in the
// same process as the bot; their goroutines carry a profiler label so
// that the bot's own CPU can be told apart. Goroutines the runtime starts
// for itself (the background GC workers, the scavenger) carry none.
const (
	partLabel     = "part"
	partBot       = "bot"
	partSimulator = "simulator"
	partHarness   = "harness"
)

// labelled runs f with the goroutine labelled part (and goroutines f
// starts inherit the label).
func labelled(ctx context.Context, part string, f func(context.Context)) {
	pprof.Do(ctx, pprof.Labels(partLabel, part), f)
}

// simulatorLabel labels the requests h serves as the simulator's, for the
// in-process transport, where they run in the engine's goroutines (whose
// label comes back from the request's context when they return). Over
// HTTP the server's goroutines carry the label already.
func simulatorLabel(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		labelled(r.Context(), partSimulator, func(context.Context) { h.ServeHTTP(w, r) })
	})
}

// cpuSplit is a loaded phase's CPU by part, from its CPU profile.
type cpuSplit struct {
	Bot, Simulator, Harness, Runtime int64 // nanoseconds of samples
}

// total is every sample's CPU.
func (s cpuSplit) total() int64 { return s.Bot + s.Simulator + s.Harness + s.Runtime }

// botShare is the bot's share of the process's CPU, the runtime's own
// (background GC) shared out in proportion to the labelled parts: every
// part's allocations make that work.
func (s cpuSplit) botShare() float64 {
	labelled := s.Bot + s.Simulator + s.Harness
	if labelled == 0 {
		return 0
	}
	return float64(s.Bot) / float64(labelled)
}

// profiler records the CPU profile of each loaded phase, for the split
// and, when asked, for a file of all of them merged.
type profiler struct {
	buf  bytes.Buffer
	on   bool
	keep []*profile.Profile // every phase's profile, when a file is wanted
	file bool
}

// start starts the profile of a phase. When the process is already being
// profiled it returns an error and the phase has no split.
func (p *profiler) start() error {
	p.buf.Reset()
	if err := pprof.StartCPUProfile(&p.buf); err != nil {
		return fmt.Errorf("bench: CPU profile: %w", err)
	}
	p.on = true
	return nil
}

// stop ends the phase's profile and splits it.
func (p *profiler) stop() (cpuSplit, error) {
	if !p.on {
		return cpuSplit{}, nil
	}
	pprof.StopCPUProfile()
	p.on = false
	prof, err := profile.Parse(&p.buf)
	if err != nil {
		return cpuSplit{}, fmt.Errorf("bench: read the CPU profile: %w", err)
	}
	if p.file {
		p.keep = append(p.keep, prof)
	}
	return split(prof)
}

// abort ends the phase's profile, if it is still on, and drops it.
func (p *profiler) abort() {
	if p.on {
		pprof.StopCPUProfile()
		p.on = false
	}
}

// split sums a profile's CPU by the part label of its samples.
func split(prof *profile.Profile) (cpuSplit, error) {
	col := -1
	for i, st := range prof.SampleType {
		if st.Type == "cpu" {
			col = i
		}
	}
	if col < 0 {
		return cpuSplit{}, fmt.Errorf("bench: the CPU profile has no cpu sample type")
	}
	var s cpuSplit
	for _, smp := range prof.Sample {
		v := smp.Value[col]
		var part string
		if l := smp.Label[partLabel]; len(l) > 0 {
			part = l[0]
		}
		switch part {
		case partBot:
			s.Bot += v
		case partSimulator:
			s.Simulator += v
		case partHarness:
			s.Harness += v
		default:
			s.Runtime += v
		}
	}
	return s, nil
}

// write merges every phase's profile into w.
func (p *profiler) write(w io.Writer) error {
	if len(p.keep) == 0 {
		return fmt.Errorf("bench: no CPU profile was recorded")
	}
	merged, err := profile.Merge(p.keep)
	if err != nil {
		return fmt.Errorf("bench: merge the CPU profiles: %w", err)
	}
	return merged.Write(w)
}
