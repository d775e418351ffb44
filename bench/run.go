package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot"
	"github.com/ucwabot/ucwabot/rules"
	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/boltstore"
	"github.com/ucwabot/ucwabot/store/redisstore"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// The bot account of the runs and the people's addresses.
const (
	botURI      = "sip:bench@contoso.com"
	botPassword = "bench-password"
	// inviteWindow bounds the invitations not yet accepted during setup.
	inviteWindow = 200
)

func personURI(p int) string { return fmt.Sprintf("sip:person%03d@contoso.com", p) }

// run is one measured run: its parts and what it has seen.
type run struct {
	o     Options
	convs int

	sim   *ucwasim.Server
	front *http.Server
	tr    *tracker
	st    store.Store
	hook  *counter      // on the store's Redis client; nil with bolt
	rdb   *redis.Client // the harness's own Redis client; nil when Redis is not used
	pfx   string        // the run's Redis key prefix
	dir   string        // the bolt store's directory

	stop    context.CancelFunc
	engDone chan error

	dw      *directWire             // with TransportDirect
	convRef []string                // with TransportDirect: the UCWA href of each conversation
	conv    []*ucwasim.Conversation // the conversations messages go to
	person  []string                // the person of each
	skipped int                     // conversations left out (id collisions)
	want    map[string][]int        // sim conversation id → message ids said in it
}

// runOnce measures one run with conversations conversations.
func runOnce(ctx context.Context, o Options, conversations int, prof *profiler) (res Result, err error) {
	// The harness's goroutines are labelled as such; the simulator's and
	// the engine's label themselves where they start.
	defer pprof.SetGoroutineLabels(ctx)
	ctx = pprof.WithLabels(ctx, pprof.Labels(partLabel, partHarness))
	pprof.SetGoroutineLabels(ctx)
	r := &run{o: o, convs: conversations, want: map[string][]int{}}
	res = Result{Conversations: conversations, Messages: o.Messages, Store: o.Store, Transport: o.Transport}
	defer func() {
		if cerr := r.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := r.openRedis(ctx); err != nil {
		return res, err
	}
	var mem0 serverStats
	if r.rdb != nil {
		if mem0, err = info(ctx, r.rdb); err != nil {
			return res, err
		}
	}
	heap0 := heapAfterGC()

	setup := time.Now()
	if err := r.start(ctx); err != nil {
		return res, err
	}
	if err := r.setup(ctx); err != nil {
		return res, err
	}
	res.Skipped = r.skipped
	res.SetupSeconds = time.Since(setup).Seconds()
	heapA := heapAfterGC()
	res.HeapPerConv = float64(heapA-heap0) / float64(conversations)
	var memA serverStats
	if r.rdb != nil {
		if memA, err = info(ctx, r.rdb); err != nil {
			return res, err
		}
		res.RedisMemPerConv = float64(memA.UsedMemory-mem0.UsedMemory) / float64(conversations)
	}

	// Unloaded: one message at a time.
	fmt.Fprintf(o.Progress, "  unloaded: %d messages one at a time\n", o.Unloaded)
	for j := 0; j < o.Unloaded; j++ {
		if err := r.say(j, j); err != nil {
			return res, err
		}
		if err := r.tr.wait(ctx, int64(j+1), o.Stall); err != nil {
			return res, err
		}
	}
	res.Unloaded = percentiles(r.tr.latencies(0, o.Unloaded))

	base := o.Unloaded // the id of the loaded phase's first message
	if o.Transport == TransportDirect {
		if err := r.prime(ctx, base); err != nil {
			return res, err
		}
		base += r.priming()
	}

	// Loaded: every message, at most Inflight in flight.
	fmt.Fprintf(o.Progress, "  loaded: %d messages over %d conversations, %d in flight\n", o.Messages, conversations, o.Inflight)
	var statsB serverStats
	if r.rdb != nil {
		if statsB, err = info(ctx, r.rdb); err != nil {
			return res, err
		}
	}
	hookB := r.hookSnapshot()
	if err := prof.start(); err != nil {
		fmt.Fprintf(o.Progress, "  %v: no split of the CPU by part\n", err)
	}
	defer prof.abort() // a run that fails stops its profile too
	cpuB := cpuTime()
	total := base + o.Messages
	stopTicker := r.progress(base)
	defer stopTicker()
	for i := 0; i < o.Messages; i++ {
		if err := r.tr.acquire(ctx); err != nil {
			return res, err
		}
		if err := r.say(base+i, i); err != nil {
			return res, err
		}
	}
	if err := r.tr.wait(ctx, int64(total), o.Stall); err != nil {
		return res, err
	}
	stopTicker()
	span := r.tr.span(base, total)
	// The tail: the events the replies cause (the bot's own messages
	// coming back) and the last state writes belong to the messages too.
	if err := r.idle(ctx); err != nil {
		return res, err
	}
	cpu := cpuTime() - cpuB
	parts, err := prof.stop()
	if err != nil {
		return res, err
	}
	hookC := r.hookSnapshot()
	m := float64(o.Messages)
	res.Seconds = span.Seconds()
	res.MsgsPerSec = m / span.Seconds()
	res.CPUPerMsg = us(cpu) / m
	if parts.total() > 0 {
		res.BotCPUPerMsg = res.CPUPerMsg * parts.botShare()
		res.SimCPUPerMsg = res.CPUPerMsg - res.BotCPUPerMsg
	}
	res.Loaded = percentiles(r.tr.latencies(base, total))
	if r.dw != nil {
		res.DirectReplies = r.dw.repliesSent()
	}
	if r.hook != nil {
		res.RoundTripsPerMsg = float64(hookC[0]-hookB[0]) / m
		res.ClientCmdsPerMsg = float64(hookC[1]-hookB[1]) / m
	}
	if r.rdb != nil {
		statsC, err := info(ctx, r.rdb)
		if err != nil {
			return res, err
		}
		// Less the INFO call that read statsB: it counts in statsC.
		res.ServerCmdsPerMsg = float64(statsC.Commands-statsB.Commands-1) / m
		res.InputBytesPerMsg = float64(statsC.InputBytes-statsB.InputBytes) / m
		res.RedisCPUPerMsg = (statsC.CPU - statsB.CPU) * 1e6 / m
		res.RedisMemPerMsg = float64(statsC.UsedMemory-memA.UsedMemory) / float64(total)
	}
	res.HeapPerMsg = float64(heapAfterGC()-heapA) / float64(total)

	fmt.Fprintln(o.Progress, "  verifying")
	if err := r.verify(ctx); err != nil {
		return res, err
	}
	if r.rdb != nil && !o.NoCeilings {
		fmt.Fprintln(o.Progress, "  ceilings: raw go-redis HINCRBY")
		cp := r.pfx + ":ceiling:"
		if res.CeilingOneTrip, err = ceilingOneTrip(ctx, r.rdb, cp, o.Messages, conversations); err != nil {
			return res, err
		}
		if res.CeilingPipelined, err = ceilingPipelined(ctx, r.rdb, cp, o.Messages, conversations); err != nil {
			return res, err
		}
		res.Ratio = res.MsgsPerSec / res.CeilingOneTrip.MsgsPerSec
	}
	return res, nil
}

// progress prints the replies of the loaded phase every 10 seconds until
// the returned function is called (any number of times).
func (r *run) progress(base int) func() {
	done := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		start, last := time.Now(), int64(base)
		for {
			select {
			case <-done:
				return
			case <-t.C:
				n := r.tr.n.Load()
				fmt.Fprintf(r.o.Progress, "    %s: %d of %d replies, %.0f/s\n", time.Since(start).Round(time.Second), n-int64(base), r.o.Messages, float64(n-last)/10)
				last = n
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// openRedis connects the harness's own client, needed for the Redis store
// and the ceilings; with bolt an unreachable Redis only drops the ceilings.
func (r *run) openRedis(ctx context.Context) error {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	r.pfx = "ucwabot-bench-" + hex.EncodeToString(b)
	if r.o.Store == StoreBolt && r.o.NoCeilings {
		return nil
	}
	opt, err := redis.ParseURL(r.o.RedisURL)
	if err != nil {
		return fmt.Errorf("bench: redis url: %w", err)
	}
	rdb := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		if r.o.Store == StoreBolt {
			fmt.Fprintf(r.o.Progress, "  no Redis at %s (%v): no ceilings\n", redisAddr(opt), err)
			return nil
		}
		return fmt.Errorf("bench: redis at %s: %w", redisAddr(opt), err)
	}
	r.rdb = rdb
	return nil
}

// start starts the simulator behind the tracker, the store and the engine,
// and waits until the bot is signed in.
func (r *run) start(ctx context.Context) error {
	o := r.o
	var sim *ucwasim.Server
	var err error
	// The simulator's own goroutines (its timers) start here.
	simOpts := ucwasim.Options{Domain: "contoso.com"}
	if o.Transport == TransportDirect {
		// The loaded phase sends it no P-GET.
		simOpts.AppIdleTimeout = 24 * time.Hour
	}
	labelled(ctx, partSimulator, func(context.Context) { sim, err = ucwasim.New(simOpts) })
	if err != nil {
		return fmt.Errorf("bench: start simulator: %w", err)
	}
	r.sim = sim
	if err := sim.AddUser(botURI, botPassword, "Bench"); err != nil {
		return err
	}
	for p := 0; p < o.People; p++ {
		if err := sim.AddUser(personURI(p), "", fmt.Sprintf("Person %d", p)); err != nil {
			return err
		}
	}
	r.tr = newTracker(o.Unloaded+r.priming()+o.Messages, o.Inflight)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("bench: listen: %w", err)
	}
	// The simulator builds its URLs from the request's Host, so it
	// answers behind the front as it does on its own port.
	r.front = &http.Server{Handler: r.tr.front(sim.Handler()), ReadHeaderTimeout: 10 * time.Second}
	// The connections' goroutines inherit the label of the one serving,
	// and their requests' contexts carry it.
	go labelled(ctx, partSimulator, func(sctx context.Context) {
		r.front.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(sctx) }
		_ = r.front.Serve(l)
	})
	discovery := "http://" + l.Addr().String() + strings.TrimPrefix(sim.DiscoveryURL(), sim.URL())

	labelled(ctx, partBot, func(ctx context.Context) { r.st, err = r.openStore(ctx) })
	if err != nil {
		return err
	}
	set, err := rules.LoadBytes(rules.Options{Build: registry(o.handler).Build}, "bench-rules.yaml", rulesYAML(o.Rules))
	if err != nil {
		return fmt.Errorf("bench: rules: %w", err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	if o.Log != nil {
		log.SetOutput(o.Log)
	}
	// As `bot run` builds it: the configured store and rules, a logger and
	// a Prometheus registry.
	opts := []bot.Option{bot.WithStore(r.st), bot.WithRules(staticRules{set}), bot.WithLogger(log), bot.WithRegisterer(prometheus.NewRegistry())}
	if o.Tracer != nil {
		opts = append(opts, bot.WithTracer(o.Tracer))
	}
	switch o.Transport {
	case TransportInProc:
		opts = append(opts, bot.WithHTTPClient(&http.Client{Transport: inproc{simulatorLabel(r.front.Handler)}}))
	case TransportDirect:
		opts = append(opts, bot.WithEventWire(func(_ string, next bot.EventWire) bot.EventWire {
			r.dw = newDirectWire(next, r.tr)
			return r.dw
		}))
	}
	eng, err := bot.New(bot.Config{
		Accounts: []bot.Account{{Address: botURI, DiscoveryURL: discovery, Password: botPassword, InsecureHTTP: true}},
		Workers:  o.Workers,
	}, opts...)
	if err != nil {
		_ = set.Close()
		return err
	}
	ectx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.stop = stop
	r.engDone = make(chan error, 1)
	go labelled(ectx, partBot, func(ectx context.Context) {
		err := eng.Run(ectx)
		_ = set.Close()
		r.engDone <- err
	})
	deadline := time.Now().Add(30 * time.Second)
	for eng.Ready() != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: the bot was not ready within 30s: %v", eng.Ready())
		}
		select {
		case err := <-r.engDone:
			r.engDone <- err
			return fmt.Errorf("bench: the bot stopped before it was ready: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

func (r *run) openStore(ctx context.Context) (store.Store, error) {
	if r.o.Store == StoreBolt {
		dir, err := os.MkdirTemp("", "ucwabot-bench-")
		if err != nil {
			return nil, err
		}
		r.dir = dir
		s, err := boltstore.Open(filepath.Join(dir, "state.db"), boltstore.Options{})
		if err != nil {
			return nil, fmt.Errorf("bench: bolt store: %w", err)
		}
		return s, nil
	}
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := redisstore.Open(octx, r.o.RedisURL, redisstore.Options{Prefix: r.pfx})
	if err != nil {
		return nil, fmt.Errorf("bench: redis store: %w", err)
	}
	r.hook = &counter{}
	s.Client().AddHook(r.hook)
	return s, nil
}

func (r *run) hookSnapshot() [2]int64 {
	if r.hook == nil {
		return [2]int64{}
	}
	return r.hook.snapshot()
}

// staticRules serves one rule set for the whole run.
type staticRules struct{ set *rules.Set }

func (s staticRules) Current() *rules.Set { return s.set }

// setup has every person invite the bot into the conversations, at most
// inviteWindow unanswered at a time, and waits until the bot accepted them
// all and handled what that caused.
func (r *run) setup(ctx context.Context) error {
	fmt.Fprintf(r.o.Progress, "  setup: %d conversations\n", r.convs)
	r.conv = make([]*ucwasim.Conversation, r.convs)
	r.person = make([]string, r.convs)
	var pending []*ucwasim.Conversation
	deadline := time.Now().Add(r.o.Stall)
	for i := 0; i < r.convs || len(pending) > 0; {
		for i < r.convs && len(pending) < inviteWindow {
			c, err := r.sim.Invite(personURI(i%r.o.People), botURI, "")
			if err != nil {
				return fmt.Errorf("bench: setup: conversation %d: %w", i, err)
			}
			r.conv[i] = c
			r.person[i] = personURI(i % r.o.People)
			r.want[c.ID()] = []int{}
			pending = append(pending, c)
			i++
		}
		kept := pending[:0]
		for _, c := range pending {
			switch c.State() {
			case "Connected":
			case "Disconnected":
				return fmt.Errorf("bench: setup: conversation %s ended before it connected", c.ID())
			default:
				kept = append(kept, c)
			}
		}
		if len(kept) < len(pending) {
			deadline = time.Now().Add(r.o.Stall)
		}
		pending = kept
		if len(pending) == inviteWindow || (i == r.convs && len(pending) > 0) {
			if time.Now().After(deadline) {
				return fmt.Errorf("bench: setup: %d invitations unanswered for %s", len(pending), r.o.Stall)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	r.dropCollisions()
	return r.idle(ctx)
}

// dropCollisions leaves out of the workload the conversations to which the
// simulator gave an id it had given another (its ids are 32-bit, so at
// 100,000 conversations a collision is likely, and the two share one
// entry in the simulator's tables).
func (r *run) dropCollisions() {
	seen := map[string]int{}
	for _, c := range r.conv {
		seen[c.ID()]++
	}
	kept, people := r.conv[:0], r.person[:0]
	for i, c := range r.conv {
		if seen[c.ID()] > 1 {
			delete(r.want, c.ID())
			r.skipped++
			continue
		}
		kept, people = append(kept, c), append(people, r.person[i])
	}
	r.conv, r.person = kept, people
	if r.skipped > 0 {
		fmt.Fprintf(r.o.Progress, "  left out %d conversations whose simulator ids collide\n", r.skipped)
	}
}

// say injects message id into conversation i mod conversations.
func (r *run) say(id, i int) error {
	k := i % len(r.conv)
	c := r.conv[k]
	r.want[c.ID()] = append(r.want[c.ID()], id)
	r.tr.inject(id)
	text := messageText(id, id%r.o.Rules, r.o.Rules)
	if r.dw != nil && r.convRef != nil {
		return r.dw.say(r.convRef[k], text)
	}
	if err := c.Say(r.person[k], text); err != nil {
		return fmt.Errorf("bench: say message %d: %w", id, err)
	}
	return nil
}

// priming is how many messages go through the simulator before the
// loaded phase of TransportDirect: one per conversation.
func (r *run) priming() int {
	if r.o.Transport != TransportDirect {
		return 0
	}
	return r.convs
}

// prime says one message in every conversation through the simulator, so
// that the direct wire knows each conversation's message events, and
// then switches the event path to it.
func (r *run) prime(ctx context.Context, base int) error {
	n := len(r.conv)
	fmt.Fprintf(r.o.Progress, "  priming: one message in each of %d conversations through the simulator\n", n)
	for i := 0; i < n; i++ {
		if err := r.tr.acquire(ctx); err != nil {
			return err
		}
		if err := r.say(base+i, i); err != nil {
			return err
		}
	}
	if err := r.tr.wait(ctx, int64(base+n), r.o.Stall); err != nil {
		return err
	}
	// The replies' own message events come back after the replies.
	deadline := time.Now().Add(r.o.Stall)
	for r.dw.templates() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: priming: the message events of %d of %d conversations came back", r.dw.templates(), n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := r.idle(ctx); err != nil {
		return err
	}
	byID := r.dw.conversations()
	r.convRef = make([]string, n)
	for k, c := range r.conv {
		if r.convRef[k] = byID[c.ID()]; r.convRef[k] == "" {
			return fmt.Errorf("bench: priming: conversation %s has no UCWA href", c.ID())
		}
	}
	r.dw.on()
	return nil
}

// idle waits until the account's inbox has stayed empty for a while: every
// event the workload caused is handled and its state written.
func (r *run) idle(ctx context.Context) error {
	const quiet = 100 * time.Millisecond
	deadline := time.Now().Add(r.o.Stall)
	var emptySince time.Time
	for {
		n, err := r.st.Len(ctx, botURI)
		if err != nil {
			return fmt.Errorf("bench: inbox length: %w", err)
		}
		switch {
		case n > 0:
			emptySince = time.Time{}
		case emptySince.IsZero():
			emptySince = time.Now()
		case time.Since(emptySince) >= quiet:
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: the inbox still holds %d events after %s", n, r.o.Stall)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// verify reads every conversation's transcript from the simulator and its
// counter from the store, and checks them against what was said.
func (r *run) verify(ctx context.Context) error {
	if d := r.tr.dupes.Load(); d > 0 {
		return fmt.Errorf("bench: verification failed: %d replies were sent twice", d)
	}
	if s := r.tr.strays.Load(); s > 0 {
		return fmt.Errorf("bench: verification failed: %d replies name no message said", s)
	}
	got := map[string]Outcome{}
	for _, c := range r.sim.Conversations(botURI) {
		if _, ok := r.want[c.ID()]; !ok && r.skipped > 0 {
			continue // a collided id: left out
		}
		var o Outcome
		for _, m := range c.Transcript() {
			if m.From == botURI {
				o.Replies = append(o.Replies, m.Text)
			}
		}
		if r.dw != nil {
			o.Replies = append(o.Replies, r.dw.sentDirectly(c.ID())...)
		}
		o.Counter = -1
		got[c.ID()] = o
	}
	ids, err := r.st.Conversations(ctx, botURI)
	if err != nil {
		return fmt.Errorf("bench: list conversations: %w", err)
	}
	for _, id := range ids {
		f, err := r.st.LoadState(ctx, botURI, id)
		if err != nil {
			return fmt.Errorf("bench: load state of %s: %w", id, err)
		}
		sid := path.Base(id)
		o, ok := got[sid]
		if !ok {
			continue
		}
		if raw, ok := f[countField]; ok {
			n, err := strconv.Atoi(string(raw))
			if err != nil {
				return fmt.Errorf("bench: state of %s: %s = %s, not a number", id, countField, raw)
			}
			o.Counter = n
		}
		got[sid] = o
	}
	// A conversation the workload did not write in has no counter.
	for id, ws := range r.want {
		if o := got[id]; len(ws) == 0 && o.Counter == -1 {
			o.Counter = 0
			got[id] = o
		}
	}
	return Verify(r.want, got)
}

// close stops the engine, the front and the simulator, closes the store
// and deletes the run's keys and files.
func (r *run) close() error {
	var errs []error
	if r.stop != nil {
		r.stop()
		if err := <-r.engDone; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("bench: engine: %w", err))
		}
	}
	if r.front != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = r.front.Shutdown(sctx)
		cancel()
	}
	if r.sim != nil {
		_ = r.sim.Close()
	}
	if r.st != nil {
		if err := r.st.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if r.rdb != nil {
		if err := deletePrefix(context.Background(), r.rdb, r.pfx+":"); err != nil {
			errs = append(errs, err)
		}
		_ = r.rdb.Close()
	}
	if r.dir != "" {
		if err := os.RemoveAll(r.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Latency is a distribution of injection → reply times, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	N   int     `json:"n"`
}

func percentiles(ns []int64) Latency {
	if len(ns) == 0 {
		return Latency{}
	}
	sort.Slice(ns, func(i, j int) bool { return ns[i] < ns[j] })
	at := func(q float64) float64 {
		i := int(q*float64(len(ns)-1) + 0.5)
		return float64(ns[i]) / 1e6
	}
	return Latency{P50: at(0.50), P99: at(0.99), N: len(ns)}
}
