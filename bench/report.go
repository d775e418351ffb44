package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
)

// Result is what one run measured. Per-message figures are of the loaded
// phase, including the work its replies cause after the last one (the
// bot's own messages coming back as events).
type Result struct {
	Conversations int    `json:"conversations"`
	Messages      int    `json:"messages"`
	Store         string `json:"store"`
	Transport     string `json:"transport"`
	// Skipped conversations were left out because the simulator gave them
	// an id it had given another.
	Skipped int `json:"skipped_conversations,omitempty"`
	// SetupSeconds is the time to sign in and connect the conversations.
	SetupSeconds float64 `json:"setup_seconds"`
	// Seconds is from the first injection to the last reply.
	Seconds    float64 `json:"seconds"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	// Ratio is MsgsPerSec over the one-round-trip ceiling of the same run.
	Ratio float64 `json:"ratio_to_ceiling"`
	// CPUPerMsg is the process's CPU (simulator, engine and harness: one
	// process) per message, in µs.
	CPUPerMsg float64 `json:"cpu_us_per_msg"`
	// BotCPUPerMsg is the bot's part of CPUPerMsg: the engine, its UCWA
	// client and the store client, less the simulator and the harness,
	// told apart by the profiler labels of their goroutines; the runtime's
	// background GC is shared out in proportion. SimCPUPerMsg is the
	// simulator's and the harness's part. Both are 0 when the process was
	// already being profiled.
	BotCPUPerMsg float64 `json:"bot_cpu_us_per_msg,omitempty"`
	SimCPUPerMsg float64 `json:"simulator_cpu_us_per_msg,omitempty"`
	// DirectReplies, with TransportDirect, is how many replies the
	// engine sent through the direct wire (every loaded-phase message's).
	DirectReplies int `json:"direct_replies,omitempty"`
	// RoundTripsPerMsg and ClientCmdsPerMsg are counted by a hook on the
	// store's Redis client: a pipeline or a script is one round trip.
	RoundTripsPerMsg float64 `json:"redis_round_trips_per_msg"`
	ClientCmdsPerMsg float64 `json:"redis_client_cmds_per_msg"`
	// ServerCmdsPerMsg and InputBytesPerMsg are INFO stats deltas
	// (total_commands_processed counts the commands a script calls; both
	// count every client of the server).
	ServerCmdsPerMsg float64 `json:"redis_server_cmds_per_msg"`
	InputBytesPerMsg float64 `json:"redis_input_bytes_per_msg"`
	// RedisCPUPerMsg is the Redis server's CPU (INFO used_cpu_sys and
	// used_cpu_user) over the same interval as CPUPerMsg, per message,
	// in µs: the other process sharing the machine's CPUs.
	RedisCPUPerMsg float64 `json:"redis_cpu_us_per_msg"`
	Loaded         Latency `json:"latency_loaded"`
	Unloaded       Latency `json:"latency_unloaded"`
	// HeapPerConv is the process's live heap after GC with the
	// conversations connected, less before the run, per conversation
	// (simulator included). HeapPerMsg is its growth over the messages.
	HeapPerConv float64 `json:"heap_bytes_per_conv"`
	HeapPerMsg  float64 `json:"heap_bytes_per_msg"`
	// RedisMemPerConv and RedisMemPerMsg are used_memory deltas: over the
	// setup per conversation, and over the messages per handled message.
	RedisMemPerConv  float64 `json:"redis_mem_bytes_per_conv"`
	RedisMemPerMsg   float64 `json:"redis_mem_bytes_per_msg"`
	CeilingOneTrip   Ceiling `json:"ceiling_one_round_trip"`
	CeilingPipelined Ceiling `json:"ceiling_pipelined"`
}

// Point is one workload size measured Runs times.
type Point struct {
	Conversations int      `json:"conversations"`
	Runs          []Result `json:"runs"`
}

// Report is everything `bot bench` prints.
type Report struct {
	Machine  Machine   `json:"machine"`
	Options  Workload  `json:"workload"`
	Started  time.Time `json:"started"`
	Duration float64   `json:"duration_seconds"`
	Points   []Point   `json:"points"`
}

// Workload is the report's copy of the knobs.
type Workload struct {
	Messages  int    `json:"messages"`
	Rules     int    `json:"rules"`
	People    int    `json:"people"`
	Inflight  int    `json:"inflight"`
	Store     string `json:"store"`
	Transport string `json:"transport"`
	Runs      int    `json:"runs"`
	Unloaded  int    `json:"unloaded_samples"`
	Workers   int    `json:"workers"`
}

// Run measures the workload Runs times at o.Conversations and then at
// every size in more (e.g. 10,000 and 100,000 conversations). Every run is
// verified; the first failure ends it with an error.
func Run(ctx context.Context, o Options, more ...int) (*Report, error) {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	rep := &Report{
		Machine: machine(),
		Options: Workload{Messages: o.Messages, Rules: o.Rules, People: o.People, Inflight: o.Inflight,
			Store: o.Store, Transport: o.Transport, Runs: o.Runs, Unloaded: o.Unloaded, Workers: o.Workers},
		Started: time.Now().UTC(),
	}
	if opt, err := redis.ParseURL(o.RedisURL); err == nil && !(o.Store == StoreBolt && o.NoCeilings) {
		rdb := redis.NewClient(opt)
		vctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		rep.Machine.RedisVersion = redisVersion(vctx, rdb)
		cancel()
		_ = rdb.Close()
	}
	prof := &profiler{file: o.CPUProfile != nil}
	for _, convs := range append([]int{o.Conversations}, more...) {
		p := Point{Conversations: convs}
		for i := 0; i < o.Runs; i++ {
			fmt.Fprintf(o.Progress, "run %d/%d: %d conversations, %d messages, store %s\n", i+1, o.Runs, convs, o.Messages, o.Store)
			res, err := runOnce(ctx, o, convs, prof)
			if err != nil {
				return rep, fmt.Errorf("%d conversations, run %d: %w", convs, i+1, err)
			}
			fmt.Fprintf(o.Progress, "  %.0f msgs/s\n", res.MsgsPerSec)
			p.Runs = append(p.Runs, res)
		}
		rep.Points = append(rep.Points, p)
	}
	rep.Duration = time.Since(rep.Started).Seconds()
	if o.CPUProfile != nil {
		if err := prof.write(o.CPUProfile); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// stat is the median and range of one figure over a point's runs.
type stat struct{ med, lo, hi float64 }

func statOf(runs []Result, f func(Result) float64) stat {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return stat{med, v[0], v[len(v)-1]}
}

// row is one line of the table.
type row struct {
	name string
	f    func(Result) float64
	prec int
}

var rows = []row{
	{"ceiling: raw go-redis, 1 round trip/msg, 64 goroutines (msgs/s)", func(r Result) float64 { return r.CeilingOneTrip.MsgsPerSec }, 0},
	{"ceiling: raw go-redis, pipelined 256 (msgs/s)", func(r Result) float64 { return r.CeilingPipelined.MsgsPerSec }, 0},
	{"ceiling: CPU, 1 round trip/msg (µs/msg)", func(r Result) float64 { return r.CeilingOneTrip.CPUPerMsg }, 1},
	{"ceiling: CPU, pipelined (µs/msg)", func(r Result) float64 { return r.CeilingPipelined.CPUPerMsg }, 1},
	{"the bot (msgs/s)", func(r Result) float64 { return r.MsgsPerSec }, 0},
	{"ratio to the 1-round-trip ceiling", func(r Result) float64 { return r.Ratio }, 3},
	{"CPU in the process (µs/msg)", func(r Result) float64 { return r.CPUPerMsg }, 0},
	{"  of it the bot: engine, UCWA client, store (µs/msg)", func(r Result) float64 { return r.BotCPUPerMsg }, 0},
	{"  of it the simulator and the harness (µs/msg)", func(r Result) float64 { return r.SimCPUPerMsg }, 0},
	{"Redis server CPU (µs/msg, server INFO)", func(r Result) float64 { return r.RedisCPUPerMsg }, 0},
	{"Redis round trips/msg (client hook)", func(r Result) float64 { return r.RoundTripsPerMsg }, 2},
	{"Redis commands/msg (client hook)", func(r Result) float64 { return r.ClientCmdsPerMsg }, 2},
	{"Redis commands/msg (server INFO)", func(r Result) float64 { return r.ServerCmdsPerMsg }, 2},
	{"Redis input bytes/msg (server INFO)", func(r Result) float64 { return r.InputBytesPerMsg }, 0},
	{"latency loaded p50 (ms)", func(r Result) float64 { return r.Loaded.P50 }, 1},
	{"latency loaded p99 (ms)", func(r Result) float64 { return r.Loaded.P99 }, 1},
	{"latency unloaded p50 (ms)", func(r Result) float64 { return r.Unloaded.P50 }, 2},
	{"latency unloaded p99 (ms)", func(r Result) float64 { return r.Unloaded.P99 }, 2},
	{"heap/conversation, process incl. simulator (bytes)", func(r Result) float64 { return r.HeapPerConv }, 0},
	{"heap growth/handled msg, incl. simulator transcripts (bytes)", func(r Result) float64 { return r.HeapPerMsg }, 0},
	{"Redis used_memory/conversation (bytes)", func(r Result) float64 { return r.RedisMemPerConv }, 0},
	{"Redis used_memory/handled msg (bytes)", func(r Result) float64 { return r.RedisMemPerMsg }, 0},
	{"time loaded phase (s)", func(r Result) float64 { return r.Seconds }, 2},
	{"time setup (s)", func(r Result) float64 { return r.SetupSeconds }, 2},
	{"conversations left out (simulator id collisions)", func(r Result) float64 { return float64(r.Skipped) }, 0},
}

// WriteTable writes the report as a table: one column per workload size,
// each cell the median of the runs with their min–max.
func (rep *Report) WriteTable(w io.Writer) error {
	m := rep.Machine
	fmt.Fprintf(w, "%s, GOMAXPROCS=%d (%d CPUs: %s), Redis %s\n", m.GoVersion, m.GOMAXPROCS, m.NumCPU, m.CPU, orNA(m.RedisVersion))
	o := rep.Options
	workers := "default"
	if o.Workers > 0 {
		workers = fmt.Sprint(o.Workers)
	}
	fmt.Fprintf(w, "workload: %d messages, %d rules, %d people, %d in flight, store %s, transport %s, engine workers %s, %d unloaded samples; median of %d runs [min–max]\n\n",
		o.Messages, o.Rules, o.People, o.Inflight, o.Store, o.Transport, workers, o.Unloaded, o.Runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var head strings.Builder
	head.WriteString("conversations")
	for _, p := range rep.Points {
		fmt.Fprintf(&head, "\t%d", p.Conversations)
	}
	fmt.Fprintln(tw, head.String())
	for _, r := range rows {
		var line strings.Builder
		line.WriteString(r.name)
		for _, p := range rep.Points {
			if len(p.Runs) == 0 {
				line.WriteString("\t-")
				continue
			}
			s := statOf(p.Runs, r.f)
			if s.hi == 0 && s.lo == 0 {
				line.WriteString("\tn/a")
				continue
			}
			fmt.Fprintf(&line, "\t%s [%s–%s]", num(s.med, r.prec), num(s.lo, r.prec), num(s.hi, r.prec))
		}
		fmt.Fprintln(tw, line.String())
	}
	return tw.Flush()
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

// num formats v with prec decimals and thousands separators.
func num(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	s := fmt.Sprintf("%.*f", prec, v)
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}
