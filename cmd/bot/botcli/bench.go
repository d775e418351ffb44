package botcli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/ucwabot/ucwabot/bench"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/console"
)

// benchScale is what --scale adds: the same workload over more
// conversations.
var benchScale = []int{10_000, 100_000}

func benchCommand() *command {
	var (
		o           bench.Options
		scale       bool
		asJSON      bool
		jsonFile    string
		verbose     bool
		redisURL    string
		consoleMode string
		cpuProfile  string
		memProfile  string
	)
	return &command{
		name: "bench",
		summary: `Measure the bot on workload W1 in one process: the built-in UCWA simulator over
loopback HTTP, the engine as "bot run" builds it, and the store (Redis under a
key prefix of its own, deleted afterwards, or the embedded store). People say
--messages messages round-robin over --conversations conversations; each
matches one of --rules rules, whose handler counts in the conversation's state
and replies. Every run is verified (every reply present, counts 1..N in order,
stored counters N) and fails loudly otherwise. Beside it, the same run
measures raw go-redis: one HINCRBY per message from 64 goroutines (the
ceiling) and pipelined 256 at a time. Prints median [min–max] of --runs runs.
Redis is REDIS_URL, else redis://127.0.0.1:6379/0.`,
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&o.Conversations, "conversations", bench.DefaultConversations, "conversations the messages go to, round-robin")
			fs.IntVar(&o.Messages, "messages", bench.DefaultMessages, "messages of the loaded phase")
			fs.IntVar(&o.Rules, "rules", bench.DefaultRules, "rules (message i matches rule i mod rules)")
			fs.IntVar(&o.People, "people", bench.DefaultPeople, "people writing")
			fs.IntVar(&o.Inflight, "inflight", bench.DefaultInflight, "most messages said and not yet answered")
			fs.StringVar(&o.Store, "store", bench.StoreRedis, "the store: redis or bolt")
			fs.StringVar(&o.Transport, "transport", bench.TransportHTTP, "engine ↔ simulator: http (loopback TCP), inproc (the simulator's handler called in-process: no TCP, no HTTP wire) or direct (after a priming message per conversation over HTTP, the event channel and sendMessage served from memory: the engine without the HTTP layers)")
			fs.IntVar(&o.Runs, "runs", bench.DefaultRuns, "runs per workload size")
			fs.IntVar(&o.Unloaded, "unloaded", bench.DefaultUnloaded, "messages timed one at a time before the loaded phase (0: none)")
			fs.IntVar(&o.Workers, "workers", 0, "engine workers (0: the engine's default)")
			fs.DurationVar(&o.Stall, "stall", bench.DefaultStall, "fail when no reply comes for this long")
			fs.BoolVar(&o.NoCeilings, "no-ceilings", false, "skip the raw go-redis ceilings")
			fs.BoolVar(&scale, "scale", false, fmt.Sprintf("also run with %d and %d conversations", benchScale[0], benchScale[1]))
			fs.BoolVar(&asJSON, "json", false, "print the report as JSON instead of a table")
			fs.StringVar(&jsonFile, "json-file", "", "also write the report as JSON to `FILE`")
			fs.BoolVar(&verbose, "v", false, "also print the engine's log lines on standard error (progress always goes there)")
			fs.StringVar(&cpuProfile, "cpuprofile", "", "write the CPU profile of the runs' loaded phases to `FILE` (go tool pprof; samples are labelled part=bot|simulator|harness)")
			fs.StringVar(&memProfile, "memprofile", "", "write an allocation profile of the runs to `FILE` (go tool pprof -sample_index=alloc_space)")
			fs.StringVar(&redisURL, "redis", "", "the Redis `URL` (default REDIS_URL, else redis://127.0.0.1:6379/0)")
			fs.StringVar(&consoleMode, "console", "off", "the web console's tracer on the engine: off, idle (as `bot run` has it, nobody watching) or watching (every event traced)")
		},
		run: func(ctx context.Context, stdio Stdio, fs *flag.FlagSet) error {
			if fs.NArg() > 0 {
				return usagef("takes no arguments")
			}
			o.RedisURL = redisURL
			if o.RedisURL == "" {
				o.RedisURL = getenv("REDIS_URL")
			}
			o.Progress = stdio.Err
			if verbose {
				o.Log = stdio.Err
			}
			if o.Unloaded == 0 {
				o.Unloaded = -1 // the flag's 0 means none
			}
			switch consoleMode {
			case "off":
			case "idle", "watching":
				hub := console.NewHub(0)
				if consoleMode == "watching" {
					defer hub.Watch()()
				}
				o.Tracer = hub
			default:
				return usagef("--console is off, idle or watching, not %q", consoleMode)
			}
			if err := o.Validate(); err != nil {
				return usagef("--%s", err)
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				o.CPUProfile = f
			}
			if memProfile != "" {
				defer func() {
					if err := writeHeapProfile(memProfile); err != nil {
						fmt.Fprintf(stdio.Err, "bot bench: --memprofile: %v\n", err)
					}
				}()
			}
			var more []int
			if scale {
				more = benchScale
			}
			start := time.Now()
			rep, err := bench.Run(ctx, o, more...)
			if err != nil {
				// What ran before the failure is still worth a look.
				if rep != nil && len(rep.Points) > 0 {
					_ = rep.WriteTable(stdio.Err)
				}
				return err
			}
			if jsonFile != "" {
				if err := writeJSONFile(jsonFile, rep); err != nil {
					return err
				}
			}
			if asJSON {
				return rep.WriteJSON(stdio.Out)
			}
			if err := rep.WriteTable(stdio.Out); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "\n%s in all\n", time.Since(start).Round(time.Second))
			return nil
		},
	}
}

// writeHeapProfile writes the allocation profile, every allocation since
// the start of the process, to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// writeJSONFile writes rep as JSON to path.
func writeJSONFile(path string, rep *bench.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--json-file: %w", err)
	}
	if err := rep.WriteJSON(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("--json-file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--json-file %s: %w", path, err)
	}
	return nil
}
