package bot

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/redisstore"
	"github.com/ucwabot/ucwabot/store/redisstore/redistest"
)

// failoverUnderTraffic runs three engines on the replicated Redis at url
// while four users keep writing, kills the primary of the bot account's
// keys with failover (which returns once the replica serves in its
// place), lets the users go on, and checks that every message was
// answered exactly once, each conversation's count in the store equals
// the messages its user said, and the lease's fencing token grew.
func failoverUnderTraffic(t *testing.T, url string, failover func() time.Duration) {
	sim := newSim(t, 1)
	uris := []string{aliceURI, bobURI, "sip:carol@contoso.com", "sip:dave@contoso.com"}
	for _, u := range uris[2:] {
		if err := sim.AddUser(u, "pw-"+u, u); err != nil {
			t.Fatal(err)
		}
	}
	set := loadRules(t, `
rules:
  - name: echo-and-count
    on: [message.received]
    do:
      - count: {}
      - echo: {prefix: "echo: "}
`)
	const prefix = "ucwabot:failover"
	ctx := context.Background()
	engines := map[string]*running{}
	for _, id := range []string{"A", "B", "C"} {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := redisstore.Open(octx, url, redisstore.Options{Prefix: prefix, Consumer: id})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		cfg := testConfig(sim)
		cfg.InstanceID = id
		engines[id] = start(t, cfg, st, set)
	}
	observer, err := redisstore.Open(ctx, url, redisstore.Options{Prefix: prefix, Consumer: "observer"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { observer.Close() })
	leaseHolder := func() store.Lease {
		t.Helper()
		var l store.Lease
		waitUntilWithin(t, "the lease holder", 30*time.Second, func() bool {
			var err error
			l, err = observer.LeaseHolder(ctx, botURI)
			return err == nil && engines[l.Owner] != nil
		})
		return l
	}

	chatters := make([]*chatter, len(uris))
	for i, u := range uris {
		first := fmt.Sprintf("u%d-m0", i)
		conv, err := sim.Invite(u, botURI, first)
		if err != nil {
			t.Fatal(err)
		}
		chatters[i] = &chatter{uri: u, conv: conv, said: []string{first}}
	}
	for _, c := range chatters {
		waitConnected(t, c.conv)
	}
	stopTraffic := make(chan struct{})
	var traffic sync.WaitGroup
	for i, c := range chatters {
		traffic.Add(1)
		go func() {
			defer traffic.Done()
			tick := time.NewTicker(150 * time.Millisecond)
			defer tick.Stop()
			for k := 1; ; k++ {
				select {
				case <-stopTraffic:
					return
				case <-tick.C:
				}
				text := fmt.Sprintf("u%d-m%d", i, k)
				if err := c.conv.Say(c.uri, text); err != nil {
					t.Errorf("%s says %q: %v", c.uri, text, err)
					return
				}
				c.add(text)
			}
		}()
	}
	ended := false
	endTraffic := func() {
		if !ended {
			ended = true
			close(stopTraffic)
			traffic.Wait()
		}
	}
	defer endTraffic()

	waitUntilWithin(t, "every conversation answered a few times", 30*time.Second, func() bool {
		for _, c := range chatters {
			if len(botSaid(sim, c.conv.ID())) < 3 {
				return false
			}
		}
		return true
	})
	before := leaseHolder()
	answered := len(botSaid(sim, ""))

	took := failover()
	promoted := time.Now()
	saidAtPromotion := make([]int, len(chatters))
	for i, c := range chatters {
		saidAtPromotion[i] = len(c.texts())
	}
	t.Logf("primary killed with %d replies sent; replica serving %v later; lease held by %s (token %d)",
		answered, took.Round(time.Millisecond), before.Owner, before.Token)

	// The users go on after the promotion; what they say is answered too.
	waitUntilWithin(t, "messages said after the promotion", 30*time.Second, func() bool {
		for i, c := range chatters {
			if len(c.texts()) < saidAtPromotion[i]+5 {
				return false
			}
		}
		return true
	})
	waitUntilWithin(t, "a reply to a message said after the promotion", 30*time.Second, func() bool {
		for i, c := range chatters {
			if count(botSaid(sim, c.conv.ID()), "echo: "+c.texts()[saidAtPromotion[i]]) == 0 {
				return false
			}
		}
		return true
	})
	resumed := time.Since(promoted)
	endTraffic()

	total := 0
	for _, c := range chatters {
		said := c.texts()
		total += len(said)
		want := make([]string, len(said))
		for i, s := range said {
			want[i] = "echo: " + s
		}
		waitReplies(t, sim, c.conv.ID(), want...)
		if got := botSaid(sim, c.conv.ID()); len(got) != len(want) {
			t.Fatalf("%s: the bot said %d messages for %d received: %q", c.uri, len(got), len(want), got)
		}
	}
	after := leaseHolder()
	if after.Token < before.Token {
		t.Fatalf("the fencing token went back across the failover: %d (%s) → %d (%s)", before.Token, before.Owner, after.Token, after.Owner)
	}
	infos, err := engines[after.Owner].e.Conversations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chatters {
		var found []string
		for _, in := range infos {
			if strings.HasSuffix(in.ID, "/"+c.conv.ID()) {
				found = append(found, string(in.State["count"]))
			}
		}
		if want := strconv.Itoa(len(c.texts())); len(found) != 1 || found[0] != want {
			t.Fatalf("%s: stored count %q, want %s", c.uri, found, want)
		}
	}
	owners := 0
	for _, r := range engines {
		if r.e.Status()[0].Owner {
			owners++
		}
	}
	if owners != 1 {
		t.Fatalf("%d engines say they own the account after the failover, want 1", owners)
	}
	t.Logf("%d messages from %d users, each answered once; replies resumed %v after the promotion; lease %s (token %d) → %s (token %d)",
		total, len(chatters), resumed.Round(time.Millisecond), before.Owner, before.Token, after.Owner, after.Token)
}

// waitUntilWithin is waitUntil with its own bound.
func waitUntilWithin(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEngine_three_instances_on_Sentinel_primary_killed_under_traffic_answer_every_message_once(t *testing.T) {
	d := redistest.NewSentinel(t)
	failoverUnderTraffic(t, d.URL(), func() time.Duration { return d.Failover(45 * time.Second) })
}

func TestEngine_three_instances_on_Cluster_primary_killed_under_traffic_answer_every_message_once(t *testing.T) {
	c := redistest.NewCluster(t)
	failoverUnderTraffic(t, c.URL(), func() time.Duration { return c.FailoverOf("{"+botURI+"}", 45*time.Second) })
}
