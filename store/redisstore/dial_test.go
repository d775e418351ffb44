package redisstore

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestDial_picks_the_client_by_url(t *testing.T) {
	tests := []struct {
		name, url string
		cluster   bool
		addr      string
	}{
		{"single", "redis://127.0.0.1:6379/2", false, "127.0.0.1:6379"},
		{"single over tls", "rediss://cache.example.com:6380", false, "cache.example.com:6380"},
		{"sentinel", "redis://sentinel-1:26379/0?master_name=mymaster", false, "FailoverClient"},
		{"cluster", "redis+cluster://node-1:6379?addr=node-2:6379", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dial(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			switch cl := c.(type) {
			case *redis.ClusterClient:
				if !tc.cluster {
					t.Fatalf("got a cluster client for %s", tc.url)
				}
				if got := cl.Options().Addrs; len(got) != 2 {
					t.Fatalf("cluster addrs = %v, want 2", got)
				}
			case *redis.Client:
				if tc.cluster {
					t.Fatalf("got a single client for %s", tc.url)
				}
				if got := cl.Options().Addr; got != tc.addr {
					t.Fatalf("addr = %q, want %q", got, tc.addr)
				}
			default:
				t.Fatalf("client type %T", c)
			}
		})
	}
}
