package redisstore_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/redisstore"
	"github.com/ucwabot/ucwabot/store/storetest"
)

// redisURL is the Redis the tests use: $REDIS_URL or the local server.
func redisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// testPrefix returns a random key prefix whose keys are deleted when t ends.
func testPrefix(t testing.TB) string {
	t.Helper()
	prefix := "ucwabot-test:" + uuid.NewString()[:12]
	opts, err := redis.ParseURL(redisURL())
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() {
		defer rdb.Close()
		deleteKeys(t, rdb, prefix)
	})
	return prefix
}

// deleteKeys removes every key under prefix with SCAN, never FLUSHDB.
func deleteKeys(t testing.TB, rdb *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+":*", 500).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan %s: %v", prefix, err)
		return
	}
	for len(batch) > 0 {
		n := min(len(batch), 500)
		if err := rdb.Unlink(ctx, batch[:n]...).Err(); err != nil {
			t.Errorf("unlink %s: %v", prefix, err)
			return
		}
		batch = batch[n:]
	}
}

// openTest opens a Store on the test Redis with prefix.
func openTest(t testing.TB, prefix string, opts redisstore.Options) *redisstore.Store {
	t.Helper()
	opts.Prefix = prefix
	if opts.StateTTL == 0 {
		opts.StateTTL = time.Hour
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := redisstore.Open(ctx, redisURL(), opts)
	if err != nil {
		t.Fatalf("open %s: %v (is redis-server running? set REDIS_URL)", redisURL(), err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStore_conformance(t *testing.T) {
	var prefixes sync.Map // *testing.T → prefix
	storetest.Run(t, func(t *testing.T) store.Store {
		p, ok := prefixes.Load(t)
		if !ok {
			p = testPrefix(t)
			prefixes.Store(t, p)
		}
		return openTest(t, p.(string), redisstore.Options{})
	})
}
