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

// Cluster is a Redis Cluster of three primaries, each with one replica,
// that the test owns. Failure detection is tuned for tests: a node that
// does not answer for DownAfter is failing, and a replica takes over its
// primary however long it was cut off (cluster-replica-validity-factor 0).
type Cluster struct {
	t testing.TB
	// Nodes are the six servers: Nodes[i] for i < 3 starts as a primary
	// serving a third of the slots, Nodes[i+3] as its replica.
	Nodes [6]*Server
}

// NewCluster starts the cluster on free 127.0.0.1 ports and joins it by
// hand (CLUSTER MEET, ADDSLOTSRANGE, REPLICATE), so it needs redis-server
// only, and waits until every node reports cluster_state:ok and knows each
// replica as one. It fails the test when redis-server is not on PATH.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	bus := make([]int, len(c.Nodes))
	for i := range c.Nodes {
		bus[i] = freePort(t)
		busPort := bus[i]
		c.Nodes[i] = newServer(t, func(*Server) []string {
			return []string{
				"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
				"--cluster-port", strconv.Itoa(busPort),
				"--cluster-node-timeout", strconv.FormatInt(DownAfter.Milliseconds(), 10),
				"--cluster-replica-validity-factor", "0",
			}
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("redistest: the cluster's logs:\n%s", c.logs())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ids := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		id, err := c.client(n).Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			t.Fatalf("redistest: cluster myid of %s: %v", n.Addr(), err)
		}
		ids[i] = id
	}
	const slots = 16384
	for i := 0; i < 3; i++ {
		from, to := i*slots/3, (i+1)*slots/3-1
		if err := c.client(c.Nodes[i]).Do(ctx, "CLUSTER", "ADDSLOTSRANGE", from, to).Err(); err != nil {
			t.Fatalf("redistest: cluster addslotsrange on %s: %v", c.Nodes[i].Addr(), err)
		}
	}
	first := c.client(c.Nodes[0])
	for i, n := range c.Nodes[1:] {
		if err := first.Do(ctx, "CLUSTER", "MEET", "127.0.0.1", n.port, bus[i+1]).Err(); err != nil {
			t.Fatalf("redistest: cluster meet %s: %v", n.Addr(), err)
		}
	}
	c.waitAll(ctx, "every node knowing the six", func(n *Server, rdb *redis.Client) bool {
		nodes, err := rdb.ClusterNodes(ctx).Result()
		return err == nil && strings.Count(nodes, "\n") == len(c.Nodes) && !strings.Contains(nodes, "handshake")
	})
	for i := 3; i < 6; i++ {
		if err := c.client(c.Nodes[i]).Do(ctx, "CLUSTER", "REPLICATE", ids[i-3]).Err(); err != nil {
			t.Fatalf("redistest: cluster replicate %s of %s: %v", c.Nodes[i].Addr(), c.Nodes[i-3].Addr(), err)
		}
	}
	c.waitAll(ctx, "cluster_state:ok, three replicas known and in sync", func(n *Server, rdb *redis.Client) bool {
		info, err := rdb.ClusterInfo(ctx).Result()
		if err != nil || !strings.Contains(info, "cluster_state:ok") {
			return false
		}
		nodes, err := rdb.ClusterNodes(ctx).Result()
		if err != nil || strings.Count(nodes, "slave") != 3 {
			return false
		}
		repl, err := rdb.Info(ctx, "replication").Result()
		return err == nil && (strings.Contains(repl, "role:master") || strings.Contains(repl, "master_link_status:up"))
	})
	// A replica gets its primary's writes only once it has acknowledged
	// the first snapshot; WAIT sees that.
	for _, n := range c.Nodes[:3] {
		syncReplica(t, n)
	}
	return c
}

// client returns a plain client of one node, closed when the test ends.
func (c *Cluster) client(n *Server) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	c.t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// waitAll waits until ok holds on every running node.
func (c *Cluster) waitAll(ctx context.Context, what string, ok func(*Server, *redis.Client) bool) {
	c.t.Helper()
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		rdb := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		for !ok(n, rdb) {
			if ctx.Err() != nil {
				_ = rdb.Close()
				c.t.Fatalf("redistest: cluster: node %s: timed out waiting for %s\n%s", n.Addr(), what, c.logs())
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = rdb.Close()
	}
}

// URL returns a redis+cluster:// URL naming every node.
func (c *Cluster) URL() string {
	u := "redis+cluster://" + c.Nodes[0].Addr()
	sep := "?"
	for _, n := range c.Nodes[1:] {
		u += sep + "addr=" + n.Addr()
		sep = "&"
	}
	return u
}

// MasterOf returns the node that serves key's slot now, as a running node
// reports it (CLUSTER KEYSLOT, CLUSTER SLOTS).
func (c *Cluster) MasterOf(key string) *Server {
	c.t.Helper()
	addr, err := c.masterAddrOf(context.Background(), key)
	if err != nil {
		c.t.Fatalf("redistest: %v", err)
	}
	for _, n := range c.Nodes {
		if n.Addr() == addr {
			return n
		}
	}
	c.t.Fatalf("redistest: the cluster names %s for %q, not one of the test's nodes", addr, key)
	return nil
}

func (c *Cluster) masterAddrOf(ctx context.Context, key string) (string, error) {
	var lastErr error
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		rdb := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		addr, err := func() (string, error) {
			defer rdb.Close()
			slot, err := rdb.ClusterKeySlot(ctx, key).Result()
			if err != nil {
				return "", err
			}
			ranges, err := rdb.ClusterSlots(ctx).Result()
			if err != nil {
				return "", err
			}
			for _, r := range ranges {
				if int64(r.Start) <= slot && slot <= int64(r.End) && len(r.Nodes) > 0 {
					return r.Nodes[0].Addr, nil
				}
			}
			return "", fmt.Errorf("slot %d is not served", slot)
		}()
		if err == nil {
			return addr, nil
		}
		lastErr = err
	}
	return "", fmt.Errorf("cluster: primary of %q: %v", key, lastErr)
}

// KillMasterOf kills the primary serving key's slot with SIGKILL and
// returns it. What its replica had not received yet is lost.
func (c *Cluster) KillMasterOf(key string) *Server {
	c.t.Helper()
	m := c.MasterOf(key)
	m.Kill()
	return m
}

// WaitFailover waits until key's slot is served by a running node other
// than old that answers as a primary, and every running node reports
// cluster_state:ok, and returns the new primary.
func (c *Cluster) WaitFailover(key string, old *Server, within time.Duration) *Server {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		addr, err := c.masterAddrOf(ctx, key)
		if err == nil && addr != old.Addr() {
			for _, n := range c.Nodes {
				if n.Addr() == addr && n.Running() && isWritablePrimaryOf(ctx, addr) {
					c.waitAll(ctx, "cluster_state:ok after the failover", func(_ *Server, rdb *redis.Client) bool {
						info, err := rdb.ClusterInfo(ctx).Result()
						return err == nil && strings.Contains(info, "cluster_state:ok")
					})
					return n
				}
			}
		}
		if ctx.Err() != nil {
			c.t.Fatalf("redistest: cluster: no failover of %q within %v after %s failed (last: %q, %v)\n%s", key, within, old.Addr(), addr, err, c.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// isWritablePrimaryOf reports whether the node at addr says it is a
// primary.
func isWritablePrimaryOf(ctx context.Context, addr string) bool {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	role, err := rdb.Do(ctx, "ROLE").Slice()
	return err == nil && len(role) > 0 && role[0] == "master"
}

// logs returns the tail of every node's log, for a failure message.
func (c *Cluster) logs() string {
	var b strings.Builder
	for i, n := range c.Nodes {
		fmt.Fprintf(&b, "--- node %d (%s):\n%s\n", i, n.Addr(), tail(n))
	}
	return b.String()
}

// replicaOf returns the running node that replicates primary.
func (c *Cluster) replicaOf(primary *Server) *Server {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range c.Nodes {
		if n == primary || !n.Running() {
			continue
		}
		info, err := c.client(n).Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_port:"+strconv.Itoa(primary.port)+"\r\n") {
			return n
		}
	}
	c.t.Fatalf("redistest: cluster: %s has no running replica", primary.Addr())
	return nil
}

// SyncReplicaOf waits until every write the primary of key's slot took
// so far has reached its replica.
func (c *Cluster) SyncReplicaOf(key string) {
	c.t.Helper()
	syncReplica(c.t, c.MasterOf(key))
}

// CutReplicationOf stops the replica of key's primary from receiving its
// writes: what the primary takes from now on is lost when it is killed.
func (c *Cluster) CutReplicationOf(key string) {
	c.t.Helper()
	p := c.MasterOf(key)
	cutReplication(c.t, p, c.replicaOf(p))
}

// FailoverOf kills the primary of key's slot with SIGKILL, waits up to
// within for its replica to take over, and returns how long that took
// after the kill.
func (c *Cluster) FailoverOf(key string, within time.Duration) time.Duration {
	c.t.Helper()
	if n := c.Promotions(); n > 0 {
		c.t.Logf("redistest: %d failovers happened before this kill (the machine was too slow for DownAfter %v): writes taken by a demoted primary are lost", n, DownAfter)
	}
	old := c.KillMasterOf(key)
	start := time.Now()
	c.WaitFailover(key, old, within)
	return time.Since(start)
}

// UnreplicatedOf returns how many bytes of the writes of key's primary
// its replica has not received.
func (c *Cluster) UnreplicatedOf(key string) int64 {
	c.t.Helper()
	p := c.MasterOf(key)
	return unreplicated(c.t, p, c.replicaOf(p))
}

// Promotions returns how many replicas have taken over a primary (the
// "Failover election won" lines of the nodes' logs).
func (c *Cluster) Promotions() int {
	n := 0
	for _, node := range c.Nodes {
		n += strings.Count(readLog(node), "Failover election won")
	}
	return n
}
