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
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// replicatedRedis is a Redis deployment the failover tests run on.
type replicatedRedis struct {
	url string
	// failover kills the primary of the bot account's keys and returns
	// once its replica serves in its place.
	failover func() time.Duration
	// cut, when set, makes the replica miss every write from now on: the
	// primary's last writes before the kill are lost. unreplicated says
	// how many bytes the replica is behind.
	cut          func()
	unreplicated func() int64
}

// failoverUnderTraffic runs three engines on the replicated Redis while
// four users keep writing, kills the primary of the bot account's keys,
// lets the users go on, and checks that every message was answered
// exactly once, each conversation's count in the store equals the
// messages its user said, and the lease's fencing token grew.
//
// With r.cut set, the primary's last writes are lost: what the bot took
// in and did in that time may be forgotten (a batch it acknowledged, a
// done mark after a reply), so only what the users say after the
// promotion must be answered exactly once; the rest is counted.
func failoverUnderTraffic(t *testing.T, r replicatedRedis) {
	url := r.url
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
		obs := newRecorder()
		e, err := New(cfg, WithStore(st), WithRules(staticRules{set}), WithObserver(obs), WithLogger(testLogger(t).WithField("instance", id)))
		if err != nil {
			t.Fatal(err)
		}
		r := &running{e: e, obs: obs}
		r.launch(t)
		engines[id] = r
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

	if r.cut != nil {
		r.cut()
		// The engines go on writing to the primary alone for a moment.
		waitUntilWithin(t, "replies sent after the cut", 30*time.Second, func() bool {
			return len(botSaid(sim, "")) >= answered+4
		})
		lost := r.unreplicated()
		if lost <= 0 {
			t.Fatalf("the replica is %d bytes behind after the cut; the test proves nothing", lost)
		}
		t.Logf("the kill loses the primary's last %d bytes of writes (%d replies sent after the cut)", lost, len(botSaid(sim, ""))-answered)
	}
	acksBefore := eventAcks(t, sim.Requests())
	behind := r.unreplicated()
	took := r.failover()
	promoted := time.Now()
	saidAtPromotion := make([]int, len(chatters))
	for i, c := range chatters {
		saidAtPromotion[i] = len(c.texts())
	}
	t.Logf("primary killed with %d replies sent, its replica %d bytes behind; replica serving %v later; lease held by %s (token %d)",
		answered, behind, took.Round(time.Millisecond), before.Owner, before.Token)

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
		total += len(c.texts())
	}
	if r.cut == nil {
		for _, c := range chatters {
			said := c.texts()
			want := make([]string, len(said))
			for i, s := range said {
				want[i] = "echo: " + s
			}
			waitReplies(t, sim, c.conv.ID(), want...)
			if got := botSaid(sim, c.conv.ID()); len(got) != len(want) {
				t.Fatalf("%s: the bot said %d messages for %d received: %q", c.uri, len(got), len(want), got)
			}
		}
	} else {
		lossyChecks(t, sim, chatters, saidAtPromotion)
	}
	after := leaseHolder()
	if after.Token < before.Token {
		t.Fatalf("the fencing token went back across the failover: %d (%s) → %d (%s)", before.Token, before.Owner, after.Token, after.Owner)
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
	infos, err := engines[after.Owner].e.Conversations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var counts []string
	for _, c := range chatters {
		var found []string
		for _, in := range infos {
			if strings.HasSuffix(in.ID, "/"+c.conv.ID()) {
				found = append(found, string(in.State["count"]))
			}
		}
		want := strconv.Itoa(len(c.texts()))
		if r.cut == nil && (len(found) != 1 || found[0] != want) {
			t.Fatalf("%s: stored count %q, want %s", c.uri, found, want)
		}
		counts = append(counts, fmt.Sprintf("%s/%s", strings.Join(found, ","), want))
	}
	if r.cut != nil {
		// The event channel's cursor is stored with the events it
		// acknowledges, so lost writes take its last moves with them and
		// the new holder asks the server again from the older cursor.
		maxBefore, minAfter := -1, -1
		for _, a := range acksBefore {
			maxBefore = max(maxBefore, a)
		}
		for _, a := range eventAcks(t, sim.Requests())[len(acksBefore):] {
			if minAfter < 0 || a < minAfter {
				minAfter = a
			}
		}
		t.Logf("event channel: acknowledged up to %d before the kill, from %d after it; stored counts/messages said %v", maxBefore, minAfter, counts)
	}
	t.Logf("%d messages from %d users; replies resumed %v after the promotion; lease %s (token %d) → %s (token %d)",
		total, len(chatters), resumed.Round(time.Millisecond), before.Owner, before.Token, after.Owner, after.Token)
}

// lossyChecks checks, after a failover that lost the primary's last
// writes, that every message said after the promotion was answered
// exactly once, and reports what became of the earlier ones.
func lossyChecks(t *testing.T, sim *ucwasim.Server, chatters []*chatter, saidAtPromotion []int) {
	t.Helper()
	lost, twice, total := 0, 0, 0
	for i, c := range chatters {
		said := c.texts()
		total += saidAtPromotion[i]
		var want []string
		for _, s := range said[saidAtPromotion[i]:] {
			want = append(want, "echo: "+s)
		}
		waitReplies(t, sim, c.conv.ID(), want...)
		got := botSaid(sim, c.conv.ID())
		for _, s := range said[:saidAtPromotion[i]] {
			switch n := count(got, "echo: "+s); {
			case n == 0:
				lost++
			case n > 1:
				twice++
			}
		}
	}
	t.Logf("each message said after the promotion answered once; of the %d said before, %d unanswered and %d answered twice", total, lost, twice)
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
	failoverUnderTraffic(t, replicatedRedis{url: d.URL(), failover: func() time.Duration { return d.Failover(45 * time.Second) }, unreplicated: d.Unreplicated})
}

func TestEngine_three_instances_on_Sentinel_failover_that_loses_the_last_writes_answer_what_follows_once(t *testing.T) {
	d := redistest.NewSentinel(t)
	failoverUnderTraffic(t, replicatedRedis{url: d.URL(), failover: func() time.Duration { return d.Failover(45 * time.Second) }, cut: d.CutReplication, unreplicated: d.Unreplicated})
}

func TestEngine_three_instances_on_Cluster_primary_killed_under_traffic_answer_every_message_once(t *testing.T) {
	c := redistest.NewCluster(t)
	key := "{" + botURI + "}"
	failoverUnderTraffic(t, replicatedRedis{
		url:          c.URL(),
		failover:     func() time.Duration { return c.FailoverOf(key, 45*time.Second) },
		unreplicated: func() int64 { return c.UnreplicatedOf(key) },
	})
}
