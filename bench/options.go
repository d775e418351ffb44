package bench

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ucwabot/ucwabot/bot"
	"github.com/ucwabot/ucwabot/handlers"
)

// Defaults of Options: workload W1.
const (
	DefaultConversations = 1000
	DefaultMessages      = 200000
	DefaultRules         = 50
	DefaultPeople        = 50
	DefaultInflight      = 1000
	DefaultRuns          = 3
	DefaultUnloaded      = 200
	DefaultStall         = time.Minute
	DefaultRedisURL      = "redis://127.0.0.1:6379/0"
)

// Stores a run can use.
const (
	StoreRedis = "redis"
	StoreBolt  = "bolt"
)

// Options are the workload's knobs. The zero value of a field means its
// default.
type Options struct {
	// Conversations the messages are spread over, round-robin.
	Conversations int
	// Messages is the number of messages of the loaded phase.
	Messages int
	// Rules is the number of rules; message i matches rule i mod Rules.
	Rules int
	// People is the number of people writing; conversation c is with
	// person c mod People.
	People int
	// Inflight bounds the messages said and not yet answered.
	Inflight int
	// Store is StoreRedis (default) or StoreBolt.
	Store string
	// RedisURL is the Redis of the store and of the ceilings (default
	// DefaultRedisURL). Keys live under a prefix of the run's own, deleted
	// afterwards.
	RedisURL string
	// Runs is how many times each point is measured; the report gives the
	// median and the range.
	Runs int
	// Unloaded is how many messages are timed one at a time, before the
	// loaded phase (negative: none).
	Unloaded int
	// Transport is TransportHTTP (default), TransportInProc or
	// TransportDirect.
	Transport string
	// Workers is the engine's worker pool (0: the engine's default, as
	// `bot run` has it).
	Workers int
	// Stall fails a run when no reply comes for this long.
	Stall time.Duration
	// NoCeilings skips the raw go-redis ceilings.
	NoCeilings bool
	// Log receives the engine's log lines; nil discards them.
	Log io.Writer
	// Progress receives a line per phase; nil discards them.
	Progress io.Writer
	// Tracer, when not nil, is given to the engine (bot.WithTracer): the
	// web console's cost on the event path.
	Tracer bot.Tracer
	// CPUProfile, when not nil, receives the CPU profile of every run's
	// loaded phase, merged (go tool pprof; the samples carry a "part"
	// label: bot, simulator or harness).
	CPUProfile io.Writer

	// handler replaces the workload's handler (tests).
	handler handlers.HandlerFunc
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Conversations, DefaultConversations)
	def(&o.Messages, DefaultMessages)
	def(&o.Rules, DefaultRules)
	def(&o.People, DefaultPeople)
	def(&o.Inflight, DefaultInflight)
	def(&o.Runs, DefaultRuns)
	def(&o.Unloaded, DefaultUnloaded)
	if o.Unloaded < 0 {
		o.Unloaded = 0
	}
	if o.Store == "" {
		o.Store = StoreRedis
	}
	if o.Transport == "" {
		o.Transport = TransportHTTP
	}
	if o.RedisURL == "" {
		o.RedisURL = DefaultRedisURL
	}
	if o.Stall == 0 {
		o.Stall = DefaultStall
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// Validate reports the first knob out of range, by its flag name.
func (o Options) Validate() error {
	switch {
	case o.Conversations < 1:
		return fmt.Errorf("conversations: %d, want at least 1", o.Conversations)
	case o.Messages < 1:
		return fmt.Errorf("messages: %d, want at least 1", o.Messages)
	case o.Rules < 1:
		return fmt.Errorf("rules: %d, want at least 1", o.Rules)
	case o.People < 1:
		return fmt.Errorf("people: %d, want at least 1", o.People)
	case o.Inflight < 1:
		return fmt.Errorf("inflight: %d, want at least 1", o.Inflight)
	case o.Runs < 1:
		return fmt.Errorf("runs: %d, want at least 1", o.Runs)
	case o.Workers < 0:
		return fmt.Errorf("workers: %d, want 0 (default) or more", o.Workers)
	case o.Store != StoreRedis && o.Store != StoreBolt && o.Store != "":
		return fmt.Errorf("store: %q, want %s or %s", o.Store, StoreRedis, StoreBolt)
	case o.Transport != TransportHTTP && o.Transport != TransportInProc && o.Transport != TransportDirect && o.Transport != "":
		return fmt.Errorf("transport: %q, want %s, %s or %s", o.Transport, TransportHTTP, TransportInProc, TransportDirect)
	case o.Stall < 0:
		return errors.New("stall: negative")
	}
	return nil
}
