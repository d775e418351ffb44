package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/redisstore"
	"github.com/ucwabot/ucwabot/store/redisstore/redistest"
	"github.com/ucwabot/ucwabot/store/storetest"
)

// conformanceOn runs the conformance suite on the Redis at url, which the
// test owns: each sub-test gets its own prefix, and nothing is cleaned up
// but the servers themselves.
func conformanceOn(t *testing.T, url string) {
	var prefixes sync.Map // *testing.T → prefix
	storetest.Run(t, func(t *testing.T) store.Store {
		p, _ := prefixes.LoadOrStore(t, "ucwabot-test:"+uuid.NewString()[:12])
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := redisstore.Open(ctx, url, redisstore.Options{Prefix: p.(string), StateTTL: time.Hour})
		if err != nil {
			t.Fatalf("open %s: %v", url, err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestStore_conformance_on_Sentinel(t *testing.T) {
	conformanceOn(t, redistest.NewSentinel(t).URL())
}

func TestStore_conformance_on_Cluster(t *testing.T) {
	conformanceOn(t, redistest.NewCluster(t).URL())
}
