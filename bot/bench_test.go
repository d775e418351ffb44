package bot

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/redisstore"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// BenchmarkEngine_path runs messages through the whole path, simulator
// over loopback HTTP included: each message is decoded from the event
// channel, stored, handled by a rule that counts it in the conversation's
// state and replies, and completed. ns/op is per message. `bot bench` runs
// the full workload with its ceilings; this is the quick form for
// profiling (-cpuprofile).
func BenchmarkEngine_path(b *testing.B) {
	for _, kind := range []string{"bolt", "redis"} {
		b.Run(kind, func(b *testing.B) {
			var st store.Store
			if kind == "bolt" {
				st = tempBolt(b)
			} else {
				st = benchRedis(b)
			}
			benchPath(b, st, 100, 500)
		})
	}
}

var benchWorkers = 32

func init() {
	if v := os.Getenv("BENCH_WORKERS"); v != "" {
		benchWorkers, _ = strconv.Atoi(v)
	}
}

func benchRedis(b *testing.B) store.Store {
	prefix := "ucwabot-bench:" + uuid.NewString()[:12]
	st, err := redisstore.Open(context.Background(), redisTestURL(), redisstore.Options{Prefix: prefix})
	if err != nil {
		b.Skipf("no Redis at %s: %v", redisTestURL(), err)
	}
	b.Cleanup(func() {
		st.Close()
		opts, _ := redis.ParseURL(redisTestURL())
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return st
}

func benchPath(b *testing.B, inner store.Store, convs, window int) {
	st := newCountingStore(inner)
	sim := newSim(b, 1)
	cfg := testConfig(sim)
	cfg.Workers = benchWorkers
	cfg.QueueSize = 1024
	cfg.PollTimeout = 30 * time.Second
	cfg.LeaseTTL = 15 * time.Second
	set := loadRules(b, `
rules:
  - name: count
    on: [message.received]
    do:
      - count: {}
      - echo: {prefix: "re: "}
`)
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	var echoed atomic.Int64 // replies the event channel reported back
	e, err := New(cfg, WithStore(st), WithRules(staticRules{set}), WithLogger(log), WithObserver(observerFunc(func(ev event.Event) {
		if ev.Kind == event.MessageSent {
			echoed.Add(1)
		}
	})))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	cs := make([]*ucwasim.Conversation, convs)
	for i := range cs {
		c, err := sim.Invite(aliceURI, botURI, "hello")
		if err != nil {
			b.Fatal(err)
		}
		cs[i] = c
	}
	replies := func() int { return int(echoed.Load()) }
	wait := func(n int) {
		deadline := time.Now().Add(time.Minute)
		for replies() < n {
			if time.Now().After(deadline) {
				b.Fatalf("%d replies after a minute, want %d", replies(), n)
			}
			time.Sleep(500 * time.Microsecond)
		}
	}
	wait(convs)
	base := replies()
	st.mu.Lock()
	clear(st.calls)
	st.payloads = nil
	st.mu.Unlock()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i-(replies()-base) >= window {
			wait(base + i - window/2)
		}
		if err := cs[i%convs].Say(aliceURI, fmt.Sprintf("m%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	wait(base + b.N)
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(st.get("AppendBatch"))/n, "appends/msg")
	b.ReportMetric(float64(st.get("CompleteBatch"))/n, "groups/msg")
	b.ReportMetric(float64(st.get("LoadState"))/n, "loads/msg")
	st.mu.Lock()
	size := 0
	for _, p := range st.payloads {
		size += len(p)
	}
	if len(st.payloads) > 0 {
		b.ReportMetric(float64(size)/float64(len(st.payloads)), "B/entry")
	}
	st.mu.Unlock()
}

type observerFunc func(event.Event)

func (f observerFunc) EventHandled(ev event.Event, _ []string, _ error) { f(ev) }
