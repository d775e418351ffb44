package bot

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/store/redisstore"
	"github.com/ucwabot/ucwabot/store/redisstore/redistest"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// storeWarnings counts the engine's warnings about store operations, by
// operation ("read inbox" for the feeder's reads).
type storeWarnings struct {
	mu  sync.Mutex
	ops map[string]int
}

func (h *storeWarnings) Levels() []logrus.Level { return []logrus.Level{logrus.WarnLevel} }

func (h *storeWarnings) Fire(e *logrus.Entry) error {
	op, _ := e.Data["op"].(string)
	if op == "" && e.Message == "read inbox" {
		op = e.Message
	}
	if op != "" {
		h.mu.Lock()
		h.ops[op]++
		h.mu.Unlock()
	}
	return nil
}

func (h *storeWarnings) count(op string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ops[op]
}

func (h *storeWarnings) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return fmt.Sprint(h.ops)
}

// counterSum adds up every series of the named counter.
func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// eventAcks returns the ack of every event-channel request in reqs.
func eventAcks(t *testing.T, reqs []ucwasim.Request) []int {
	t.Helper()
	var acks []int
	for _, r := range reqs {
		if r.Rel != "events" {
			continue
		}
		u, err := url.Parse(r.Path)
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(u.Query().Get("ack"))
		if err != nil {
			continue
		}
		acks = append(acks, n)
	}
	return acks
}

// chatter is one simulated user who keeps talking to the bot.
type chatter struct {
	uri  string
	conv *ucwasim.Conversation

	mu   sync.Mutex
	said []string // every message, the invitation's first one included
}

func (c *chatter) add(text string) {
	c.mu.Lock()
	c.said = append(c.said, text)
	c.mu.Unlock()
}

func (c *chatter) texts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.said...)
}

func TestEngine_Redis_outage_under_traffic_loses_no_state_and_no_reply(t *testing.T) {
	srv := redistest.NewServer(t)
	sim := newSim(t, 1)
	uris := []string{aliceURI, bobURI, "sip:carol@contoso.com", "sip:dave@contoso.com"}
	for _, u := range uris[2:] {
		if err := sim.AddUser(u, "pw-"+u, u); err != nil {
			t.Fatal(err)
		}
	}

	ctx := context.Background()
	st, err := redisstore.Open(ctx, srv.URL()+"?dial_timeout=200ms&max_retries=1", redisstore.Options{Prefix: "ucwabot:outage", Consumer: "A"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	cfg := testConfig(sim)
	cfg.InstanceID = "A"
	// The lease outlives the outage: the instance keeps the account and
	// its conversations wait for the store instead of being handed over.
	cfg.LeaseTTL = 15 * time.Second
	logger := logrus.New()
	logger.SetLevel(logrus.InfoLevel)
	logger.SetOutput(testWriter{t})
	warn := &storeWarnings{ops: map[string]int{}}
	logger.AddHook(warn)
	reg := prometheus.NewRegistry()
	set := loadRules(t, `
rules:
  - name: echo-and-count
    on: [message.received]
    do:
      - count: {}
      - echo: {prefix: "echo: "}
`)
	obs := newRecorder()
	e, err := New(cfg, WithStore(st), WithRules(staticRules{set}), WithObserver(obs), WithLogger(logger), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	r := &running{e: e, obs: obs}
	r.launch(t)

	// Several conversations, one per user, each opened with a message.
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

	// A steady stream of messages from every user until stopTraffic.
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

	waitUntil(t, "every conversation answered a few times", func() bool {
		for _, c := range chatters {
			if len(botSaid(sim, c.conv.ID())) < 3 {
				return false
			}
		}
		return true
	})

	// Redis goes down while the users keep talking.
	srv.Stop()
	down := time.Now()
	// Requests answered until Redis was down for sure; the batch of the
	// last of them may have been stored before the shutdown.
	before := sim.Requests()
	outage := len(before)
	saidBefore := make([]int, len(chatters))
	for i, c := range chatters {
		saidBefore[i] = len(c.texts())
	}
	t.Logf("redis stopped; %d messages said so far", sum(saidBefore))

	var notReady error
	waitUntil(t, "the engine reporting not ready", func() bool {
		notReady = e.Ready()
		return notReady != nil
	})
	if !strings.Contains(notReady.Error(), "store unreachable") {
		t.Fatalf("not ready, but not because of the store: %v", notReady)
	}
	t.Logf("readiness during the outage: %v", notReady)
	waitUntil(t, "the event channel's inbox write retried", func() bool { return warn.count("inbox append") > 0 })
	for time.Since(down) < 4*time.Second {
		if e.Ready() == nil {
			t.Fatal("the engine reports ready while Redis is down")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := e.Status()[0]; !s.Owner {
		t.Fatalf("the account lost its lease during a %v outage with a %v lease: %+v", time.Since(down).Round(time.Millisecond), cfg.LeaseTTL, s)
	}

	// Nothing said during the outage was answered: it cannot have been
	// stored, so it was not handled, and the event channel's ack stayed
	// at most one batch past where it was (the batch the poller holds and
	// keeps trying to write).
	for i, c := range chatters {
		for _, text := range c.texts()[saidBefore[i]:] {
			if n := count(botSaid(sim, c.conv.ID()), "echo: "+text); n != 0 {
				t.Fatalf("%q, said while Redis was down, was answered %d times before Redis returned", text, n)
			}
		}
	}
	during := sim.Requests()
	maxBefore := -1
	for _, a := range eventAcks(t, before) {
		maxBefore = max(maxBefore, a)
	}
	if len(during) < outage {
		t.Fatal("the simulator's request log was truncated; the ack check needs it whole")
	}
	duringAcks := eventAcks(t, during[outage:])
	for _, a := range duringAcks {
		if a > maxBefore+1 {
			t.Fatalf("the event channel was acknowledged up to %d during the outage (before: %d; P-GETs meanwhile: %v)", a, maxBefore, duringAcks)
		}
	}
	t.Logf("event channel during the outage: acks %v (before: up to %d); store warnings %s", duringAcks, maxBefore, warn)

	// Redis returns; the engine resumes by itself.
	srv.Start()
	back := time.Now()
	waitUntil(t, "the engine ready again", func() bool { return e.Ready() == nil })
	t.Logf("ready again %v after Redis returned (outage %v)", time.Since(back).Round(time.Millisecond), back.Sub(down).Round(time.Millisecond))
	// The users go on a little after Redis returned; what they say now is
	// answered below like the rest.
	saidBack := make([]int, len(chatters))
	for i, c := range chatters {
		saidBack[i] = len(c.texts())
	}
	waitUntil(t, "messages said after Redis returned", func() bool {
		for i, c := range chatters {
			if len(c.texts()) < saidBack[i]+3 {
				return false
			}
		}
		return true
	})
	endTraffic()

	// Every message got exactly one reply, and each conversation's count
	// in the store equals the messages its user said.
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
	infos, err := e.Conversations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != len(chatters) {
		t.Fatalf("conversations with state: %d, want %d: %+v", len(infos), len(chatters), infos)
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
	undelivered := 0
	for _, c := range chatters {
		for _, m := range c.conv.Transcript() {
			if m.Undelivered {
				undelivered++
			}
		}
	}
	if undelivered != 0 {
		t.Fatalf("%d messages were reported undelivered to their senders", undelivered)
	}
	errs := counterSum(t, reg, "ucwabot_store_errors_total")
	recov := counterSum(t, reg, "ucwabot_recoveries_total")
	if warn.count("inbox append") == 0 {
		t.Fatal("no store retry was logged")
	}
	t.Logf("%d messages from %d users, each answered once; store errors counted %v, recoveries %v, warnings %s", total, len(chatters), errs, recov, warn)
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
