package bot

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/redisstore"
)

func openRedis(t *testing.T, prefix, consumer string) store.Store {
	t.Helper()
	st, err := redisstore.Open(context.Background(), redisTestURL(), redisstore.Options{Prefix: prefix, Consumer: consumer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestEngine_that_loses_its_lease_stops_and_the_new_holder_answers_once(t *testing.T) {
	sim := newSim(t, 1)
	prefix := redisPrefix(t)
	set := loadRules(t, echoRules)

	cfgA := testConfig(sim)
	cfgA.InstanceID = "A"
	a := start(t, cfgA, openRedis(t, prefix, "A"), set)

	cfgB := testConfig(sim)
	cfgB.InstanceID = "B"
	eb, err := New(cfgB, WithStore(openRedis(t, prefix, "B")), WithRules(staticRules{set}), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	doneB := make(chan error, 1)
	go func() { doneB <- eb.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-doneB })
	liveEngines.add(t, &running{e: eb, done: make(chan error, 1)})

	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: m0")
	// A standby instance is ready (the process can serve: it takes over
	// when the holder dies); Owner and the lease_holder gauge say that it
	// does not drive the account.
	waitUntil(t, "standby B ready", func() bool { return eb.Ready() == nil })
	if st := eb.Status()[0]; st.Owner || st.State != stateStandby {
		t.Fatalf("B while A holds the lease: %+v, want standby and not owner", st)
	}
	if v := gaugeValue(t, eb.met.leaseHolder.WithLabelValues(botURI)); v != 0 {
		t.Fatalf("B's lease_holder gauge = %v, want 0", v)
	}
	if v := gaugeValue(t, a.e.met.leaseHolder.WithLabelValues(botURI)); v != 1 {
		t.Fatalf("A's lease_holder gauge = %v, want 1", v)
	}

	// The lease vanishes (as if it expired while A was partitioned away):
	// B takes the account, A must notice and stop.
	opts, _ := redis.ParseURL(redisTestURL())
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.Del(context.Background(), prefix+":{"+botURI+"}:lease").Err(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "B holding the lease and ready", func() bool { return eb.Status()[0].Owner && eb.Ready() == nil })
	waitUntil(t, "A standing by", func() bool { return !a.e.Status()[0].Owner })

	want := []string{"echo: m0"}
	for i := 1; i <= 4; i++ {
		text := fmt.Sprintf("m%d", i)
		if err := conv.Say(aliceURI, text); err != nil {
			t.Fatal(err)
		}
		want = append(want, "echo: "+text)
	}
	waitReplies(t, sim, conv.ID(), want...)
	// Wait for B to renew its lease once more: A, standing by, has had a
	// full renewal period to try taking the account back.
	holder := func() store.Lease {
		l, err := a.e.store.LeaseHolder(context.Background(), botURI)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	held := holder()
	if held.Owner != "B" {
		t.Fatalf("lease held by %q after B answered, want B", held.Owner)
	}
	waitUntil(t, "B renewing its lease", func() bool {
		l := holder()
		if l.Owner != "B" || l.Token != held.Token {
			t.Fatalf("lease moved from B (token %d) to %q (token %d)", held.Token, l.Owner, l.Token)
		}
		return l.Expires.After(held.Expires)
	})
	if st := a.e.Status()[0]; st.Owner || st.State == stateReplaced {
		t.Fatalf("A after losing its lease: %+v", st)
	}
}

func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
