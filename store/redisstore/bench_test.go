package redisstore_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/redisstore"
	"github.com/ucwabot/ucwabot/store/redisstore/redistest"
)

// benchBatch is the number of events per UCWA batch in the benchmarks.
const benchBatch = 10

var benchPayload = []byte(`{"rel":"message","href":"/ucwa/oauth/v1/applications/101/communication/conversations/1/messaging/messages/7","_embedded":{"message":{"direction":"Incoming"}}}`)

// storeCycle moves one batch through the store: Append (one round trip),
// Pending, and one Complete per event (one round trip each).
func storeCycle(ctx context.Context, s *redisstore.Store, acct string, seq *int) error {
	batch := make([]store.Entry, benchBatch)
	for i := range batch {
		*seq++
		batch[i] = store.Entry{EventID: "e" + strconv.Itoa(*seq), Conversation: "c" + strconv.Itoa(*seq%50), Payload: benchPayload}
	}
	if err := s.Append(ctx, acct, 0, batch); err != nil {
		return err
	}
	for got := 0; got < benchBatch; {
		es, err := s.Pending(ctx, acct, benchBatch, time.Second)
		if err != nil {
			return err
		}
		for _, e := range es {
			err := s.Complete(ctx, acct, store.Completion{Entry: e, Set: store.Fields{"last": []byte(`"` + e.EventID + `"`)}, DoneTTL: time.Hour})
			if err != nil {
				return err
			}
		}
		got += len(es)
	}
	return nil
}

// rawCycle issues the same commands with a plain go-redis pipeline and no
// checks: XADD+HSET per event in one pipeline, XREADGROUP, and per event a
// pipeline of XACK, XDEL, HDEL, SET PX, HSET, PEXPIRE, ZADD.
func rawCycle(ctx context.Context, rdb redis.UniversalClient, base string, seq *int) error {
	inbox, queued := base+"inbox", base+"queued"
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < benchBatch; i++ {
			*seq++
			eid := "e" + strconv.Itoa(*seq)
			p.XAdd(ctx, &redis.XAddArgs{Stream: inbox, Values: []any{"e", eid, "c", "c" + strconv.Itoa(*seq%50), "p", benchPayload}})
			p.HSet(ctx, queued, eid, "1")
		}
		return nil
	})
	if err != nil {
		return err
	}
	for got := 0; got < benchBatch; {
		streams, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "engine", Consumer: "raw", Streams: []string{inbox, ">"}, Count: benchBatch, Block: time.Second}).Result()
		if err != nil {
			return err
		}
		for _, m := range streams[0].Messages {
			eid, conv := m.Values["e"].(string), m.Values["c"].(string)
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.XAck(ctx, inbox, "engine", m.ID)
				p.XDel(ctx, inbox, m.ID)
				p.HDel(ctx, queued, eid)
				p.Set(ctx, base+"done:"+eid, "1", time.Hour)
				p.HSet(ctx, base+"state:"+conv, "last", `"`+eid+`"`)
				p.PExpire(ctx, base+"state:"+conv, time.Hour)
				p.ZAdd(ctx, base+"convs", redis.Z{Score: float64(time.Now().UnixMilli()), Member: conv})
				return nil
			})
			if err != nil {
				return err
			}
			got++
		}
	}
	return nil
}

// runWorkers runs cycles on `workers` goroutines, each on its own account,
// until n events went through, and returns the events per second.
func runWorkers(b *testing.B, workers, n int, cycle func(w int, seq *int) error) float64 {
	b.Helper()
	cycles := (n + benchBatch - 1) / benchBatch
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq := 0
			for c := w; c < cycles; c += workers {
				if err := cycle(w, &seq); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return float64(cycles*benchBatch) / elapsed.Seconds()
}

// BenchmarkEvents compares, in one run, the store's Append+Pending+Complete
// with a raw pipeline of the same commands on the same Redis. It reports
// both rates and their ratio (goal: store/raw ≥ 0.8).
func BenchmarkEvents(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			ctx := context.Background()
			prefix := testPrefix(b)
			stores := make([]*redisstore.Store, workers)
			for w := range stores {
				stores[w] = openTest(b, prefix+":s", redisstore.Options{})
			}
			raw := stores[0].Client()
			for w := 0; w < workers; w++ {
				base := fmt.Sprintf("%s:raw:{bot%d}:", prefix, w)
				if err := raw.XGroupCreateMkStream(ctx, base+"inbox", "engine", "0").Err(); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			var storeRate, rawRate float64
			// Alternate halves so both see the same server conditions.
			for half := 0; half < 2; half++ {
				rawRate += runWorkers(b, workers, b.N/2+1, func(w int, seq *int) error {
					return rawCycle(ctx, raw, fmt.Sprintf("%s:raw:{bot%d}:", prefix, w), seq)
				})
				storeRate += runWorkers(b, workers, b.N/2+1, func(w int, seq *int) error {
					return storeCycle(ctx, stores[w], fmt.Sprintf("bot%d-%d", w, half), seq)
				})
			}
			b.StopTimer()
			b.ReportMetric(storeRate/2, "store-events/s")
			b.ReportMetric(rawRate/2, "raw-events/s")
			b.ReportMetric(storeRate/rawRate, "store/raw")
		})
	}
}

// BenchmarkMemoryPerConversation writes b.N conversations of three fields
// through the store on a private Redis and reports the used_memory delta
// per conversation (state hash, its TTL and its sorted-set member).
func BenchmarkMemoryPerConversation(b *testing.B) {
	srv := redistest.NewServer(b)
	ctx := context.Background()
	s, err := redisstore.Open(ctx, srv.URL(), redisstore.Options{Prefix: "ucwabot:bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const acct = "sip:bot@contoso.com"
	// The account's sorted set exists before the measurement starts.
	if err := s.UpdateState(ctx, acct, "warm", func(f store.Fields) error { f["a"] = []byte("1"); return nil }); err != nil {
		b.Fatal(err)
	}
	before := usedMemory(b, s.Client())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := s.UpdateState(ctx, acct, fmt.Sprintf("19:%08d@thread.skype", i), func(f store.Fields) error {
			f["step"] = []byte(`"asked-name"`)
			f["greeted"] = []byte(`true`)
			f["name"] = []byte(`"Ann Example"`)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	after := usedMemory(b, s.Client())
	b.ReportMetric(float64(after-before)/float64(b.N), "B/conversation")
	usage, err := s.Client().MemoryUsage(ctx, "ucwabot:bench:{"+acct+"}:state:19:00000000@thread.skype").Result()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(usage), "B/state-hash")
}

func usedMemory(b *testing.B, rdb redis.UniversalClient) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("INFO memory has no used_memory")
	return 0
}
