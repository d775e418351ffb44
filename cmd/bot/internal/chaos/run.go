package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/simctl"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// startInstance writes the instance's config (a new instance id each
// start) and starts `bot run`.
func (r *run) startInstance(in *instance, discovery string) error {
	in.gen++
	port, err := freePort()
	if err != nil {
		return err
	}
	in.port = port
	name := fmt.Sprintf("inst%d-%d", in.idx, in.gen)
	cfg := filepath.Join(r.dir, name+".yaml")
	body := fmt.Sprintf(`accounts:
  - address: %s
    discovery_url: %s
    insecure_http: true
    password_env: CHAOS_BOT_PASSWORD
rules: [rules]
store:
  url: %s
  prefix: %s
http:
  listen: 127.0.0.1:%d
engine:
  instance_id: %s
  lease_ttl: 5s
log:
  format: json
  level: debug
`, botURI, discovery, r.redisURL, r.prefix, port, name)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		return err
	}
	p, err := r.start(name, r.o.Exe, []string{"CHAOS_BOT_PASSWORD=" + password}, "run", "--config", cfg)
	if err != nil {
		return err
	}
	r.mu.Lock()
	in.p = p
	r.mu.Unlock()
	return nil
}

// procOf is the instance's current process (a restart replaces it).
func (r *run) procOf(in *instance) *proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return in.p
}

var httpc = &http.Client{Timeout: time.Second}

// metrics scrapes an instance's /metrics into name{labels} → value.
func metrics(port int) (map[string]float64, error) {
	resp, err := httpc.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// holder returns the live, not stopped instance whose metrics say it
// holds the account's lease, or nil.
func (r *run) holder() *instance {
	for _, in := range r.inst {
		if !r.procOf(in).alive() {
			continue
		}
		m, err := metrics(in.port)
		if err != nil {
			continue
		}
		for k, v := range m {
			if strings.HasPrefix(k, "ucwabot_lease_holder") && v == 1 {
				return in
			}
		}
	}
	return nil
}

// allAnswer tells whether every instance serves /metrics.
func (r *run) allAnswer() bool {
	for _, in := range r.inst {
		if _, err := metrics(in.port); err != nil {
			return false
		}
	}
	return true
}

func (r *run) sampleGrowth() (goroutines, rss float64) {
	for _, in := range r.inst {
		if !r.procOf(in).alive() {
			continue
		}
		m, err := metrics(in.port)
		if err != nil {
			continue
		}
		goroutines += m["go_goroutines"]
		rss += m["process_resident_memory_bytes"]
	}
	return goroutines, rss
}

func ready(port int) bool {
	resp, err := httpc.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// chaos drives traffic and faults for the run's duration, then waits for
// quiescence.
func (r *run) chaos(ctx context.Context) error {
	end := time.Now().Add(r.o.Duration)
	tctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); r.traffic(tctx, mrand.New(mrand.NewPCG(r.o.Seed, 1))) }()
	go func() { defer wg.Done(); r.faults(tctx, mrand.New(mrand.NewPCG(r.o.Seed, 2))) }()
	go func() { defer wg.Done(); r.processFaults(tctx, mrand.New(mrand.NewPCG(r.o.Seed, 3))) }()
	go func() { defer wg.Done(); r.watchReadiness(tctx) }()
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// Heal: no fault armed, every process running.
	qctx, qcancel := context.WithTimeout(ctx, 10*time.Second)
	_ = r.ctl.ClearFaults(qctx, 0)
	qcancel()
	for _, in := range r.inst {
		if p := r.procOf(in); p.alive() {
			p.signal(syscall.SIGCONT)
		}
	}
	if r.redis != nil {
		r.redis.signal(syscall.SIGCONT)
	}
	r.logf("traffic over: %d conversations; waiting for quiescence", len(r.convs))
	return r.quiesce(ctx)
}

// quiesce waits until every delivered message has a reply, or nothing
// changed for 20s, at most 90s.
func (r *run) quiesce(ctx context.Context) error {
	deadline := time.Now().Add(90 * time.Second)
	lastChange, last := time.Now(), -1
	for {
		c, err := r.collect(ctx)
		if err == nil {
			if c.Lost == 0 {
				r.rep.Quiesced = true
				r.rep.Checked = c
				return nil
			}
			if c.Replies != last {
				last, lastChange = c.Replies, time.Now()
			}
			r.rep.Checked = c
		}
		if time.Now().After(deadline) || time.Since(lastChange) > 20*time.Second {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (r *run) collect(ctx context.Context) (Checked, error) {
	ts := map[string][]ucwasim.Message{}
	ids := map[string]string{}
	for _, c := range r.convs {
		ids[c.id] = c.label
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		t, err := r.ctl.Transcript(cctx, c.id)
		cancel()
		if err != nil {
			return Checked{}, err
		}
		ts[c.label] = t
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	sent, err := r.ctl.Sent(sctx, botURI)
	cancel()
	if err != nil {
		return Checked{}, err
	}
	ts = WithNewIMs(ts, ids, sent)
	r.transcripts = ts
	r.mu.Lock()
	erasures := slices.Clone(r.erasures)
	r.mu.Unlock()
	return CheckErased(ts, botURI, erasures), nil
}

// traffic: people invite the bot, write numbered messages, join and leave.
func (r *run) traffic(ctx context.Context, rnd *mrand.Rand) {
	next, inviteErrs := 0, 0
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		open := 0
		for _, c := range r.convs {
			if !c.dead {
				open++
			}
		}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		switch x := rnd.IntN(100); {
		case open < r.o.Conversations && (x < 20 || open == 0):
			next++
			owner := personURI(people[rnd.IntN(len(people))])
			id, err := r.ctl.Invite(actx, owner, botURI, userText(next, 1))
			if err != nil {
				if inviteErrs++; inviteErrs <= 3 || inviteErrs%100 == 0 {
					r.logf("invite (%d failed): %v", inviteErrs, err)
				}
				next--
				break
			}
			r.convs = append(r.convs, &conv{label: fmt.Sprintf("c%d", next), idx: next, id: id, owner: owner, sent: 1})
		case open > 0 && x < 90:
			c := r.pick(rnd)
			if c.sent >= maxPerConversation {
				c.dead = true
				break
			}
			who := c.owner
			if c.guest != "" && rnd.IntN(3) == 0 {
				who = c.guest
			}
			if err := r.ctl.Say(actx, c.id, who, userText(c.idx, c.sent+1)); err != nil {
				if c.fails++; c.fails >= 5 && ctx.Err() == nil {
					c.dead = true
				}
				break
			}
			c.sent++
			c.fails = 0
		case open > 0:
			c := r.pick(rnd)
			if c.guest == "" {
				g := personURI(people[rnd.IntN(len(people))])
				if g != c.owner && r.ctl.Join(actx, c.id, g) == nil {
					c.guest = g
				}
			} else if r.ctl.Leave(actx, c.id, c.guest) == nil {
				c.guest = ""
			}
		}
		cancel()
	}
}

func (r *run) pick(rnd *mrand.Rand) *conv {
	var open []*conv
	for _, c := range r.convs {
		if !c.dead {
			open = append(open, c)
		}
	}
	return open[rnd.IntN(len(open))]
}

// faultKinds are the faults armed through POST /_sim/faults, each for the
// bot's next matching request.
var faultKinds = []struct {
	name string
	spec simctl.FaultSpec
}{
	{"401", simctl.FaultSpec{Status: 401}},
	{"403 InvalidToken", simctl.FaultSpec{Status: 403, Subcode: "InvalidToken"}},
	{"404 ApplicationNotFound", simctl.FaultSpec{Status: 404, Code: "NotFound", Subcode: "ApplicationNotFound"}},
	{"410", simctl.FaultSpec{Status: 410}},
	{"409 MakeMeAvailableRequired", simctl.FaultSpec{Status: 409, Code: "Conflict", Subcode: "MakeMeAvailableRequired"}},
	{"429 Retry-After", simctl.FaultSpec{Status: 429, RetryAfter: "2s"}},
	{"503 Retry-After", simctl.FaultSpec{Status: 503, RetryAfter: "2s"}},
	{"500", simctl.FaultSpec{Status: 500}},
	{"503 HTML", simctl.FaultSpec{Status: 503, HTML: true}},
	{"delay", simctl.FaultSpec{Delay: "3s"}},
	{"drop", simctl.FaultSpec{Drop: true}},
	{"drop after serve", simctl.FaultSpec{Drop: true, AfterServe: true}},
	{"502 after serve", simctl.FaultSpec{Status: 502, AfterServe: true}},
}

// faultRels are the endpoints a fault is aimed at ("" = the next request).
var faultRels = []string{"", "events", "sendMessage", "reportMyActivity", "makeMeAvailable", "application", "applications", "token", "accept"}

// faultActions are done at once through their control routes.
var faultActions = []string{"resync", "resume", "revoke", "kill", "expire"}

func (r *run) faults(ctx context.Context, rnd *mrand.Rand) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if rnd.Float64() >= r.o.FaultRate {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var name string
		var err error
		if x := rnd.IntN(len(faultKinds) + len(faultActions)); x < len(faultKinds) {
			k := faultKinds[x]
			spec := k.spec
			spec.User = botURI
			spec.Rel = faultRels[rnd.IntN(len(faultRels))]
			name = k.name
			if spec.Rel != "" {
				name += " on " + spec.Rel
			}
			_, err = r.ctl.InjectFault(actx, spec)
		} else {
			name = faultActions[x-len(faultKinds)]
			err = r.ctl.Act(actx, name, botURI)
		}
		cancel()
		r.mu.Lock()
		if err != nil {
			if ctx.Err() == nil {
				r.rep.FaultErrors++
			}
		} else {
			r.rep.Faults[name]++
		}
		r.mu.Unlock()
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func between(rnd *mrand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rnd.Int64N(int64(hi-lo)+1))
}

// processFaults SIGKILLs and SIGSTOPs the lease holder and pauses and
// restarts the private Redis, one every 15–30s; a fault always completes
// (the process is continued or restarted) even when the traffic is over.
func (r *run) processFaults(ctx context.Context, rnd *mrand.Rand) {
	for {
		if !sleep(ctx, between(rnd, 15*time.Second, 30*time.Second)) {
			return
		}
		if r.o.FaultRate <= 0 {
			continue
		}
		kinds := []string{"SIGKILL lease holder", "SIGSTOP lease holder"}
		if r.redis != nil {
			kinds = append(kinds, "Redis paused", "Redis restarted")
		}
		kind := kinds[rnd.IntN(len(kinds))]
		switch kind {
		case "SIGKILL lease holder", "SIGSTOP lease holder":
			in := r.holder()
			if in == nil {
				continue
			}
			if kind == "SIGKILL lease holder" {
				r.mu.Lock()
				in.p.expected = true
				r.mu.Unlock()
				in.p.signal(syscall.SIGKILL)
				<-in.p.done
				r.logf("SIGKILL %s (pid %d)", in.p.name, in.p.pid())
				time.Sleep(between(rnd, time.Second, 5*time.Second))
				if err := r.startInstance(in, r.discovery); err != nil {
					r.logf("restart: %v", err)
				}
			} else {
				d := between(rnd, 5*time.Second, 15*time.Second)
				r.logf("SIGSTOP %s (pid %d) for %s", in.p.name, in.p.pid(), d)
				in.p.signal(syscall.SIGSTOP)
				time.Sleep(d)
				in.p.signal(syscall.SIGCONT)
			}
		case "Redis paused":
			r.logf("SIGSTOP redis (pid %d) for 5s", r.redis.pid())
			r.beginOutage()
			r.redis.signal(syscall.SIGSTOP)
			time.Sleep(5 * time.Second)
			r.redis.signal(syscall.SIGCONT)
			r.endOutage()
		case "Redis restarted":
			r.logf("restart redis (pid %d)", r.redis.pid())
			r.beginOutage()
			if !r.o.AppendOnly {
				r.mu.Lock()
				r.erasures = append(r.erasures, time.Now())
				r.mu.Unlock()
			}
			r.stop(r.redis, syscall.SIGTERM, 5*time.Second)
			time.Sleep(5 * time.Second)
			if err := r.startRedis(context.Background()); err != nil {
				r.logf("restart redis: %v", err)
			}
			r.endOutage()
		}
		r.mu.Lock()
		r.rep.Faults[kind]++
		r.mu.Unlock()
	}
}

func (r *run) beginOutage() { r.mu.Lock(); r.outage = time.Now(); r.mu.Unlock() }
func (r *run) endOutage()   { r.mu.Lock(); r.outage = time.Time{}; r.mu.Unlock() }

// watchReadiness polls /readyz of each instance during Redis outages.
func (r *run) watchReadiness(ctx context.Context) {
	for sleep(ctx, 500*time.Millisecond) {
		r.mu.Lock()
		began := r.outage
		r.mu.Unlock()
		if began.IsZero() || time.Since(began) < outageGrace {
			continue
		}
		var wg sync.WaitGroup
		for _, in := range r.inst {
			p := r.procOf(in)
			if !p.alive() {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok := ready(in.port)
				r.mu.Lock()
				defer r.mu.Unlock()
				if !r.outage.IsZero() && p.alive() {
					r.rep.ReadySamples++
					if ok {
						r.rep.ReadyDuringOutage++
						r.logf("%s says ready %s into a Redis outage", p.name, time.Since(began).Round(100*time.Millisecond))
					}
				}
			}()
		}
		wg.Wait()
	}
}

// finish stops the children, reads their logs and decides the verdict.
func (r *run) finish() {
	r.rep.Goroutines[1], r.rep.RSSBytes[1] = r.sampleGrowth()
	if r.o.LogDir != "" {
		// What the checker saw and what the simulator served, beside the logs.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		reqs, _ := r.ctl.Requests(ctx, 0)
		cancel()
		for name, v := range map[string]any{"transcripts.json": r.transcripts, "requests.json": reqs} {
			if b, err := json.MarshalIndent(v, "", " "); err == nil {
				_ = os.WriteFile(filepath.Join(r.o.LogDir, name), b, 0o644)
			}
		}
	}
	r.stopInstances()
	r.mu.Lock()
	procs := append([]*proc(nil), r.procs...)
	r.mu.Unlock()
	for _, p := range procs {
		if p == r.redis {
			continue
		}
		b, err := os.ReadFile(p.logPath)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "fatal error:") || strings.Contains(line, "DATA RACE") {
				r.rep.Panics = append(r.rep.Panics, p.name+": "+line)
			}
		}
	}
	c := r.rep.Checked
	fail := func(ok bool, format string, args ...any) {
		if !ok {
			r.rep.Failed = append(r.rep.Failed, fmt.Sprintf(format, args...))
		}
	}
	fail(c.Lost == 0, "lost: %d delivered messages without a reply", c.Lost)
	fail(c.Duplicated == 0, "duplicated: %d replies sent twice", c.Duplicated)
	fail(c.Wrong == 0, "state wrong or out of order: %d replies", c.Wrong)
	fail(len(r.rep.Crashes) == 0, "crashes: %d", len(r.rep.Crashes))
	fail(len(r.rep.Panics) == 0, "panics: %d", len(r.rep.Panics))
	fail(r.rep.ReadyDuringOutage == 0, "ready during a Redis outage: %d samples", r.rep.ReadyDuringOutage)
	fail(c.Delivered > 0, "no message delivered")
	sort.Strings(r.rep.Crashes)
}

// Print writes the report as text.
func (rep *Report) Print(w interface{ Write([]byte) (int, error) }) {
	c := rep.Checked
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("seed %d, %s, %d instances, %d conversations (quiesced: %v)", rep.Seed, rep.Duration, rep.Instances, c.Conversations, rep.Quiesced)
	p("%-40s %d (%d marked undelivered by the simulator)", "messages delivered", c.Delivered, c.Undelivered)
	p("%-40s %d", "replies", c.Replies)
	p("%-40s %d", "lost (delivered, no reply)", c.Lost)
	p("%-40s %d", "undelivered (sender told), no reply", c.UndeliveredUnanswered)
	p("%-40s %d", "erased by an empty Redis restart", c.Erased)
	p("%-40s %d", "duplicated (reply sent twice)", c.Duplicated)
	p("%-40s %d", "state wrong or out of order", c.Wrong)
	p("%-40s %d", "crashes", len(rep.Crashes))
	for _, x := range rep.Crashes {
		p("  %s", x)
	}
	p("%-40s %d", "panics in child logs", len(rep.Panics))
	for _, x := range rep.Panics {
		p("  %s", x)
	}
	p("%-40s %d of %d samples", "ready during a Redis outage", rep.ReadyDuringOutage, rep.ReadySamples)
	p("%-40s %.0f → %.0f", "goroutines (all live instances)", rep.Goroutines[0], rep.Goroutines[1])
	p("%-40s %.1f → %.1f MB", "resident memory (all live instances)", rep.RSSBytes[0]/1e6, rep.RSSBytes[1]/1e6)
	p("%-40s %d", "keys left by the service (deleted)", rep.KeysLeft)
	total := 0
	names := make([]string, 0, len(rep.Faults))
	for k, n := range rep.Faults {
		names = append(names, k)
		total += n
	}
	sort.Strings(names)
	p("faults injected: %d (%d refused by the control API)", total, rep.FaultErrors)
	for _, k := range names {
		p("  %-38s %d", k, rep.Faults[k])
	}
	for _, f := range c.Findings {
		p("finding %s m%d: %s", f.Conversation, f.Message, f.What)
	}
	if len(rep.Failed) == 0 {
		p("PASS")
		return
	}
	for _, f := range rep.Failed {
		p("FAIL %s", f)
	}
}
