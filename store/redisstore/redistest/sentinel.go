package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name the Sentinel deployment monitors its primary
// under.
const MasterName = "mymaster"

// DownAfter is how long a Sentinel primary or a Cluster node must not
// answer before it counts as down: short, so that a failover takes a few
// seconds, yet long enough that a loaded test machine does not fail a
// primary over before the test kills it.
const DownAfter = 1500 * time.Millisecond

// Sentinel is a primary, one replica and three sentinels (quorum two)
// that the test owns, with failure detection tuned for tests: a primary
// that does not answer for DownAfter is down, and a failover that stalls
// is retried after three seconds.
type Sentinel struct {
	t testing.TB
	// Data are the primary and the replica, in their starting roles.
	Data [2]*Server
	// Sentinels are the three sentinel processes.
	Sentinels [3]*Server
}

// NewSentinel starts the deployment on free 127.0.0.1 ports and waits
// until every sentinel sees the primary, its replica in sync, and the two
// other sentinels, so that a failover can be agreed on at once. It fails
// the test when redis-server is not on PATH.
func NewSentinel(t testing.TB) *Sentinel {
	t.Helper()
	d := &Sentinel{t: t}
	d.Data[0] = newServer(t, nil)
	primary := d.Data[0].port
	d.Data[1] = newServer(t, func(*Server) []string {
		return []string{"--replicaof", "127.0.0.1", strconv.Itoa(primary)}
	})
	// Each sentinel is told the others and the replica up front, so
	// none has to wait for their hello messages and INFO rounds.
	var ports [3]int
	var ids [3]string
	for i := range d.Sentinels {
		ports[i] = freePort(t)
		ids[i] = fmt.Sprintf("%040x", i+1)
	}
	for i := range d.Sentinels {
		d.Sentinels[i] = newProcessOn(t, ports[i], func(s *Server) []string {
			conf := filepath.Join(s.dir, "sentinel.conf")
			if _, err := os.Stat(conf); err != nil {
				var b strings.Builder
				fmt.Fprintf(&b, "port %d\nbind 127.0.0.1\ndir %s\nsentinel myid %s\n", s.port, s.dir, ids[i])
				fmt.Fprintf(&b, "sentinel monitor %s 127.0.0.1 %d 2\n", MasterName, primary)
				fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %d\n", MasterName, DownAfter.Milliseconds())
				fmt.Fprintf(&b, "sentinel failover-timeout %s 3000\n", MasterName)
				fmt.Fprintf(&b, "sentinel parallel-syncs %s 1\n", MasterName)
				fmt.Fprintf(&b, "sentinel known-replica %s 127.0.0.1 %d\n", MasterName, d.Data[1].port)
				for j := range ports {
					if j != i {
						fmt.Fprintf(&b, "sentinel known-sentinel %s 127.0.0.1 %d %s\n", MasterName, ports[j], ids[j])
					}
				}
				if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
					t.Fatalf("redistest: write sentinel config: %v", err)
				}
			}
			return []string{conf, "--sentinel"}
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("redistest: the Sentinel deployment's logs:\n%s", d.logs())
		}
	})
	d.waitReplicaSynced(d.Data[1], 20*time.Second)
	// After its first sync a replica gets the primary's writes only once
	// it has acknowledged the snapshot (REPLCONF ACK, within a second):
	// until WAIT sees it, everything written would die with the primary.
	syncReplica(t, d.Data[0])
	d.waitSentinelsReady(20 * time.Second)
	return d
}

// URL returns the Sentinel URL of database 0 that names all three
// sentinels.
func (d *Sentinel) URL() string {
	u := "redis://" + d.Sentinels[0].Addr() + "/0?master_name=" + MasterName
	for _, s := range d.Sentinels[1:] {
		u += "&addr=" + s.Addr()
	}
	return u
}

// MasterAddr returns the primary's address as the sentinels report it
// (SENTINEL get-master-addr-by-name): the answer of a majority, or an
// error when no two sentinels agree.
func (d *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	votes := map[string]int{}
	var lastErr error
	for _, s := range d.Sentinels {
		if !s.Running() {
			continue
		}
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		addr, err := sc.GetMasterAddrByName(ctx, MasterName).Result()
		_ = sc.Close()
		if err != nil {
			lastErr = err
			continue
		}
		a := net.JoinHostPort(addr[0], addr[1])
		votes[a]++
		if votes[a] >= 2 {
			return a, nil
		}
	}
	return "", fmt.Errorf("no two sentinels agree on the primary (%v; last error %v)", votes, lastErr)
}

// Primary returns the data server that is the primary now.
func (d *Sentinel) Primary() *Server {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr, err := d.MasterAddr(ctx)
	if err != nil {
		d.t.Fatalf("redistest: %v", err)
	}
	for _, s := range d.Data {
		if s.Addr() == addr {
			return s
		}
	}
	d.t.Fatalf("redistest: the sentinels name %s, not one of the test's servers", addr)
	return nil
}

// KillPrimary kills the current primary with SIGKILL and returns it.
// What the replica had not received yet is lost, as in a real crash.
func (d *Sentinel) KillPrimary() *Server {
	d.t.Helper()
	p := d.Primary()
	p.Kill()
	return p
}

// WaitPromotion waits until a majority of the sentinels name a primary
// other than old, and that server answers as a primary (ROLE master,
// writable), and returns it. Sentinel's own timing (a 1 s down-after and
// its randomised election) makes this a few seconds; within is the bound.
func (d *Sentinel) WaitPromotion(old *Server, within time.Duration) *Server {
	d.t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		addr, err := d.MasterAddr(ctx)
		if err == nil && addr != old.Addr() {
			for _, s := range d.Data {
				if s.Addr() == addr && s.Running() && isWritablePrimary(ctx, s.Addr()) {
					cancel()
					return s
				}
			}
		}
		cancel()
		last = fmt.Sprintf("sentinels say %q (%v)", addr, err)
		if time.Now().After(deadline) {
			d.t.Fatalf("redistest: no promotion within %v after %s failed: %s\n%s", within, old.Addr(), last, d.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// isWritablePrimary reports whether the server at addr says it is a
// primary and accepts a write.
func isWritablePrimary(ctx context.Context, addr string) bool {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	role, err := rdb.Do(ctx, "ROLE").Slice()
	if err != nil || len(role) == 0 || role[0] != "master" {
		return false
	}
	return rdb.Set(ctx, "redistest:probe", "1", time.Second).Err() == nil
}

// waitReplicaSynced waits until replica's link to its primary is up.
func (d *Sentinel) waitReplicaSynced(replica *Server, within time.Duration) {
	d.t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: replica.Addr(), MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := rdb.Info(ctx, "replication").Result()
		cancel()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("redistest: replica %s not in sync within %v: %v\n%s", replica.Addr(), within, err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSentinelsReady waits until every sentinel knows the primary's
// replica and both other sentinels.
func (d *Sentinel) waitSentinelsReady(within time.Duration) {
	d.t.Helper()
	deadline := time.Now().Add(within)
	for _, s := range d.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			m, err := sc.Master(ctx, MasterName).Result()
			var replicas []map[string]string
			if err == nil {
				replicas, err = sc.Replicas(ctx, MasterName).Result()
			}
			cancel()
			ok := err == nil && m["num-other-sentinels"] == "2" && m["num-slaves"] == "1" &&
				len(replicas) == 1 && !strings.Contains(replicas[0]["flags"], "disconnected") &&
				!strings.Contains(replicas[0]["flags"], "s_down")
			if ok {
				break
			}
			if time.Now().After(deadline) {
				_ = sc.Close()
				d.t.Fatalf("redistest: sentinel %s not ready within %v: master %v, replicas %v, err %v", s.Addr(), within, m, replicas, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = sc.Close()
	}
}

// logs returns the tail of every process's log, for a failure message.
func (d *Sentinel) logs() string {
	var b strings.Builder
	for i, s := range d.Data {
		fmt.Fprintf(&b, "--- data %d (%s):\n%s\n", i, s.Addr(), tail(s))
	}
	for i, s := range d.Sentinels {
		fmt.Fprintf(&b, "--- sentinel %d (%s):\n%s\n", i, s.Addr(), tail(s))
	}
	return b.String()
}

// tail returns the last lines of the server's log.
func tail(s *Server) string {
	lines := strings.Split(strings.TrimRight(readLog(s), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// replica returns the running data server that is not p.
func (d *Sentinel) replicaOf(p *Server) *Server {
	d.t.Helper()
	for _, s := range d.Data {
		if s != p && s.Running() {
			return s
		}
	}
	d.t.Fatalf("redistest: the primary %s has no running replica", p.Addr())
	return nil
}

// SyncReplica waits until every write the primary took so far has
// reached the replica.
func (d *Sentinel) SyncReplica() {
	d.t.Helper()
	syncReplica(d.t, d.Primary())
}

// CutReplication stops the replica from receiving the primary's writes:
// what the primary takes from now on is lost when it is killed, as the
// writes of an asynchronous replica's last moments are. The sentinels
// still see both servers up.
func (d *Sentinel) CutReplication() {
	d.t.Helper()
	p := d.Primary()
	cutReplication(d.t, p, d.replicaOf(p))
}

// Failover kills the primary with SIGKILL, waits up to within for the
// replica's promotion, and returns how long that took after the kill.
func (d *Sentinel) Failover(within time.Duration) time.Duration {
	d.t.Helper()
	if n := d.Promotions(); n > 0 {
		d.t.Logf("redistest: %d failovers happened before this kill (the machine was too slow for DownAfter %v): writes taken by the demoted primary are lost", n, DownAfter)
	}
	old := d.KillPrimary()
	start := time.Now()
	d.WaitPromotion(old, within)
	return time.Since(start)
}

// Unreplicated returns how many bytes of the primary's writes the replica
// has not received (after CutReplication, what a kill would lose).
func (d *Sentinel) Unreplicated() int64 {
	d.t.Helper()
	p := d.Primary()
	return unreplicated(d.t, p, d.replicaOf(p))
}

// Promotions returns how many failovers the sentinels have carried out
// (the +switch-master lines in the first running sentinel's log).
func (d *Sentinel) Promotions() int {
	for _, s := range d.Sentinels {
		if s.Running() {
			return strings.Count(readLog(s), "+switch-master")
		}
	}
	return 0
}

// readLog returns the server's log.
func readLog(s *Server) string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	return string(b)
}
