package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// cutReplication stops replica from receiving primary's writes, so that
// what primary takes from now on is lost when it dies: the replica is
// given a password the primary does not know, then its link is closed,
// and it cannot log in again. Both stay up; the replica keeps trying.
func cutReplication(t testing.TB, primary, replica *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := redis.NewClient(&redis.Options{Addr: replica.Addr(), MaxRetries: -1})
	defer r.Close()
	p := redis.NewClient(&redis.Options{Addr: primary.Addr(), MaxRetries: -1})
	defer p.Close()
	if err := r.ConfigSet(ctx, "masterauth", "redistest-no-such-password").Err(); err != nil {
		t.Fatalf("redistest: cut replication: set masterauth on %s: %v", replica.Addr(), err)
	}
	if err := p.Do(ctx, "CLIENT", "KILL", "TYPE", "replica").Err(); err != nil {
		t.Fatalf("redistest: cut replication: kill the replica link on %s: %v", primary.Addr(), err)
	}
	for {
		info, err := r.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:down") {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("redistest: cut replication: %s still linked to %s: %v\n%s", replica.Addr(), primary.Addr(), err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncReplica waits until every write primary took so far has reached at
// least one replica (a write and WAIT on one connection).
func syncReplica(t testing.TB, primary *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: primary.Addr(), MaxRetries: -1, PoolSize: 1})
	defer rdb.Close()
	// A cluster node takes writes for its own slots only: try keys until
	// one is one of them.
	for i := 0; ; i++ {
		err := rdb.Set(ctx, fmt.Sprintf("redistest:sync:%d", i), time.Now().String(), time.Minute).Err()
		if err == nil {
			break
		}
		if !strings.HasPrefix(err.Error(), "MOVED") || i > 1000 {
			t.Fatalf("redistest: sync replica of %s: %v", primary.Addr(), err)
		}
	}
	n, err := rdb.Wait(ctx, 1, 15*time.Second).Result()
	if err != nil || n < 1 {
		t.Fatalf("redistest: sync replica of %s: WAIT = %d, %v", primary.Addr(), n, err)
	}
}

// unreplicated returns how many bytes of primary's replication stream
// replica has not received.
func unreplicated(t testing.TB, primary, replica *Server) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offset := func(s *Server, field string) int64 {
		rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
		defer rdb.Close()
		info, err := rdb.Info(ctx, "replication").Result()
		if err != nil {
			t.Fatalf("redistest: replication info of %s: %v", s.Addr(), err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, field+":"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err == nil {
					return n
				}
			}
		}
		t.Fatalf("redistest: %s reports no %s", s.Addr(), field)
		return 0
	}
	return offset(primary, "master_repl_offset") - offset(replica, "slave_repl_offset")
}
