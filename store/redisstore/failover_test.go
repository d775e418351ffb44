package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/redisstore"
	"github.com/ucwabot/ucwabot/store/redisstore/redistest"
)

// replicated is a Redis deployment whose primary (for one account's slot)
// can be killed and replaced by its replica.
type replicated interface {
	URL() string
	// sync waits until the replica has every write so far.
	sync()
	// cut makes the replica miss every write from now on.
	cut()
	// failover kills the primary and waits until the replica serves in
	// its place.
	failover() time.Duration
}

type sentinelDeployment struct{ d *redistest.Sentinel }

func (s sentinelDeployment) URL() string             { return s.d.URL() }
func (s sentinelDeployment) sync()                   { s.d.SyncReplica() }
func (s sentinelDeployment) cut()                    { s.d.CutReplication() }
func (s sentinelDeployment) failover() time.Duration { return s.d.Failover(45 * time.Second) }

type clusterDeployment struct {
	c   *redistest.Cluster
	key string // a key in the account's slot
}

func (c clusterDeployment) URL() string             { return c.c.URL() }
func (c clusterDeployment) sync()                   { c.c.SyncReplicaOf(c.key) }
func (c clusterDeployment) cut()                    { c.c.CutReplicationOf(c.key) }
func (c clusterDeployment) failover() time.Duration { return c.c.FailoverOf(c.key, 45*time.Second) }

// openOn opens a Store on url as instance name.
func openOn(t *testing.T, url, prefix, name string) *redisstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := redisstore.Open(ctx, url, redisstore.Options{Prefix: prefix, Consumer: name, StateTTL: time.Hour})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// eventually retries fn until it returns nil: the clients' first calls
// after a failover fail until they find the new primary.
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(20 * time.Second)
	for n := 1; ; n++ {
		err := fn()
		if err == nil {
			t.Logf("%s: %d tries, %v", what, n, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fencedAcrossFailover: three instances share an account; the primary
// dies right after a takeover that its replica never received, so the
// promotion loses the newest lease and its writes. Tokens handed out
// after the promotion are still above every token handed out before it,
// the lost one included, so neither earlier holder can write again, and
// the new holder replays exactly what the promoted replica kept.
func fencedAcrossFailover(t *testing.T, dep replicated, prefix, acct string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	a := openOn(t, dep.URL(), prefix, "a")
	b := openOn(t, dep.URL(), prefix, "b")
	c := openOn(t, dep.URL(), prefix, "c")
	must := func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	entries := func(ids ...string) []store.Entry {
		var es []store.Entry
		for _, id := range ids {
			es = append(es, store.Entry{EventID: id, Conversation: "c1", Payload: []byte(id)})
		}
		return es
	}

	la, err := a.AcquireLease(ctx, acct, "a", 3*time.Second)
	must(err, "a acquires")
	must(a.Append(ctx, acct, la.Token, entries("e1", "e2", "e3")), "a appends")
	es, err := a.Pending(ctx, acct, 3, 0)
	must(err, "a reads")
	if len(es) != 3 {
		t.Fatalf("a read %d entries, want 3", len(es))
	}
	must(a.Complete(ctx, acct, store.Completion{Entry: es[0], Set: store.Fields{"n": []byte("1")}, Fence: la.Token}), "a completes e1")
	dep.sync() // what a wrote survives the failover

	// From here the replica hears nothing: a hands over to b, b writes.
	dep.cut()
	must(a.ReleaseLease(ctx, la), "a releases")
	lb, err := b.AcquireLease(ctx, acct, "b", time.Minute)
	must(err, "b acquires")
	if lb.Token <= la.Token {
		t.Fatalf("b's token %d, want more than a's %d", lb.Token, la.Token)
	}
	must(b.Append(ctx, acct, lb.Token, entries("e4")), "b appends e4")
	replay, err := b.Pending(ctx, acct, 3, 0)
	must(err, "b replays")
	if len(replay) == 0 || replay[0].EventID != "e2" {
		t.Fatalf("b's replay = %v, want e2 first", replay)
	}
	must(b.Complete(ctx, acct, store.Completion{Entry: replay[0], Set: store.Fields{"n": []byte("2")}, Fence: lb.Token}), "b completes e2")

	took := dep.failover()
	promoted := time.Now()

	// The promotion lost b's lease: b's renewal says it was fenced.
	var holder store.Lease
	eventually(t, "lease holder after the failover", func() error {
		var err error
		holder, err = c.LeaseHolder(ctx, acct)
		if errors.Is(err, store.ErrNotFound) {
			holder, err = store.Lease{}, nil
		}
		return err
	})
	if holder.Owner == "b" {
		t.Fatalf("the promoted replica has b's lease (token %d): the cut did not lose b's writes, the test proves nothing", holder.Token)
	}
	eventually(t, "b renews", func() error {
		if _, err := b.RenewLease(ctx, lb, time.Minute); !errors.Is(err, store.ErrFenced) {
			return fmt.Errorf("b's renewal after the failover = %v, want ErrFenced", err)
		}
		return nil
	})

	// c takes the account once a's restored lease runs out.
	var lc store.Lease
	eventually(t, "c acquires", func() error {
		var err error
		lc, err = c.AcquireLease(ctx, acct, "c", time.Minute)
		return err
	})
	t.Logf("c holds %v after the promotion", time.Since(promoted).Round(time.Millisecond))
	if lc.Token <= lb.Token {
		t.Fatalf("c's token %d after the failover, want more than the lost token %d (a's %d)", lc.Token, lb.Token, la.Token)
	}
	for _, old := range []struct {
		name string
		s    *redisstore.Store
		l    store.Lease
	}{{"a", a, la}, {"b", b, lb}} {
		eventually(t, old.name+"'s writes", func() error {
			if err := old.s.Append(ctx, acct, old.l.Token, entries("e5")); !errors.Is(err, store.ErrFenced) {
				return fmt.Errorf("%s's append = %v, want ErrFenced", old.name, err)
			}
			if err := old.s.Complete(ctx, acct, store.Completion{Entry: es[2], Fence: old.l.Token}); !errors.Is(err, store.ErrFenced) {
				return fmt.Errorf("%s's complete = %v, want ErrFenced", old.name, err)
			}
			if err := old.s.SaveSession(ctx, acct, old.l.Token, store.Session{ApplicationURL: "/app/" + old.name}); !errors.Is(err, store.ErrFenced) {
				return fmt.Errorf("%s's save session = %v, want ErrFenced", old.name, err)
			}
			if _, err := old.s.RenewLease(ctx, old.l, time.Minute); !errors.Is(err, store.ErrFenced) {
				return fmt.Errorf("%s's renewal = %v, want ErrFenced", old.name, err)
			}
			return nil
		})
	}

	// c replays what the promoted replica kept: e2 and e3, delivered to a
	// and not completed there; b's completion of e2 and its e4 are gone.
	var got []string
	for {
		es, err := c.Pending(ctx, acct, 10, 0)
		must(err, "c reads")
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			got = append(got, e.EventID)
			must(c.Complete(ctx, acct, store.Completion{Entry: e, Fence: lc.Token}), "c completes "+e.EventID)
		}
	}
	if fmt.Sprint(got) != "[e2 e3]" {
		t.Fatalf("c replayed %v, want [e2 e3]", got)
	}
	f, err := c.LoadState(ctx, acct, "c1")
	must(err, "c loads the state")
	if string(f["n"]) != "1" {
		t.Fatalf("state n = %s after the failover, want a's 1 (b's 2 was lost)", f["n"])
	}
	t.Logf("failover in %v; tokens a %d, b %d (lost), c %d; holder at the promotion %q", took.Round(time.Millisecond), la.Token, lb.Token, lc.Token, holder.Owner)
}

func TestStore_Sentinel_failover_that_loses_a_takeover_keeps_fencing(t *testing.T) {
	t.Parallel()
	d := redistest.NewSentinel(t)
	fencedAcrossFailover(t, sentinelDeployment{d}, "ucwabot-test:failover", "sip:bot@contoso.com")
}

func TestStore_Cluster_failover_that_loses_a_takeover_keeps_fencing(t *testing.T) {
	t.Parallel()
	const acct = "sip:bot@contoso.com"
	c := redistest.NewCluster(t)
	fencedAcrossFailover(t, clusterDeployment{c, "{" + acct + "}"}, "ucwabot-test:failover", acct)
}
