package redistest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ucwabot/ucwabot/store/redisstore/redistest"
)

func TestServer_stop_and_start_keep_data(t *testing.T) {
	srv := redistest.NewServer(t)
	opts, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("ping succeeded while the server was stopped")
	}
	srv.Start()
	if v, err := rdb.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("get after restart = %q, %v; want v", v, err)
	}
}

func TestSentinel_promotes_the_replica_when_the_primary_is_killed(t *testing.T) {
	d := redistest.NewSentinel(t)
	opts, err := redis.ParseFailoverURL(d.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewFailoverClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// WAIT: the write reached the replica before the primary dies.
	if n, err := rdb.Wait(ctx, 1, 5*time.Second).Result(); err != nil || n != 1 {
		t.Fatalf("wait = %d, %v; want 1 replica", n, err)
	}
	old := d.KillPrimary()
	killed := time.Now()
	now := d.WaitPromotion(old, 30*time.Second)
	if now == old {
		t.Fatal("the killed primary is the primary")
	}
	t.Logf("promoted %s %v after the kill", now.Addr(), time.Since(killed).Round(time.Millisecond))
	if n := d.Promotions(); n != 1 {
		t.Fatalf("promotions = %d, want 1", n)
	}
	if v, err := rdb.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("get after the failover = %q, %v; want v", v, err)
	}
}

func TestCluster_replica_takes_over_a_killed_primary(t *testing.T) {
	c := redistest.NewCluster(t)
	opts, err := redis.ParseClusterURL(strings.Replace(c.URL(), "redis+cluster", "redis", 1))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClusterClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "{x}k"} {
		if err := rdb.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	old := c.MasterOf("{x}k")
	if n, err := redis.NewClient(&redis.Options{Addr: old.Addr()}).Wait(ctx, 1, 5*time.Second).Result(); err != nil || n != 1 {
		t.Fatalf("wait = %d, %v; want 1 replica", n, err)
	}
	c.KillMasterOf("{x}k")
	killed := time.Now()
	now := c.WaitFailover("{x}k", old, 30*time.Second)
	t.Logf("%s took over %v after the kill", now.Addr(), time.Since(killed).Round(time.Millisecond))
	if n := c.Promotions(); n != 1 {
		t.Fatalf("promotions = %d, want 1", n)
	}
	// go-redis reloads the slot map on MOVED, not when a node is gone.
	rdb.ReloadState(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := rdb.Get(ctx, "{x}k").Result()
		if err == nil && v == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("get after the failover = %q, %v; want v", v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
