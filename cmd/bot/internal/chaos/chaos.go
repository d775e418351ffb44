// Package chaos runs `bot chaos`: the simulator and several `bot run`
// instances as child processes of the running binary, on one Redis,
// traffic from scripted people, random faults through the simulator's
// control API and against the processes (SIGKILL and SIGSTOP of the lease
// holder, Redis paused and restarted), and at the end the invariants:
// nothing lost, nothing answered twice, the state applied once and in
// order, no crash.
package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/simctl"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// Options are the flags of `bot chaos`.
type Options struct {
	Duration      time.Duration // traffic and faults; quiescence comes on top
	Conversations int           // conversations kept open at once
	Instances     int           // `bot run` instances
	FaultRate     float64       // chance per second that a fault is injected
	Seed          uint64        // 0: random (printed)
	RedisURL      string        // "": a private redis-server
	AppendOnly    bool          // of the private redis-server
	Exe           string        // the bot binary; "": os.Executable
	LogDir        string        // keep the child logs here; "": a temp dir removed at the end
	Progress      io.Writer     // progress lines; nil: none
}

// Report is the outcome of a run.
type Report struct {
	Seed      uint64   `json:"seed"`
	Duration  string   `json:"duration"`
	Instances int      `json:"instances"`
	Checked   Checked  `json:"checked"`
	Crashes   []string `json:"crashes"`
	Panics    []string `json:"panics"`
	// ReadyDuringOutage counts /readyz samples that said ready more than
	// outageGrace into a Redis outage.
	ReadyDuringOutage int            `json:"ready_during_outage"`
	ReadySamples      int            `json:"ready_samples_in_outages"`
	Faults            map[string]int `json:"faults"`
	FaultErrors       int            `json:"fault_errors"`
	Goroutines        [2]float64     `json:"goroutines"` // sum over live instances, after start and at the end
	RSSBytes          [2]float64     `json:"rss_bytes"`
	KeysLeft          int            `json:"keys_left"`
	Quiesced          bool           `json:"quiesced"`
	Failed            []string       `json:"failed,omitempty"`
}

// outageGrace is how long an instance may still say ready after Redis
// stopped answering.
const outageGrace = 3 * time.Second

// maxPerConversation bounds the messages of one conversation (the rule
// ladder's height).
const maxPerConversation = 400

const (
	botURI   = "sip:bot@example.com"
	password = "Chaos-Sim-Secret-1"
)

var people = []string{"alice", "bob", "carol", "dave", "erin", "frank"}

func personURI(name string) string { return "sip:" + name + "@example.com" }

// run is one chaos run's state.
type run struct {
	o           Options
	dir         string
	logDir      string
	rep         *Report
	mu          sync.Mutex
	procs       []*proc
	sim         *proc
	redis       *proc
	redisAddr   string
	discovery   string
	transcripts map[string][]ucwasim.Message // as last checked
	redisURL    string
	prefix      string
	ctl         *simctl.Client
	inst        []*instance
	convs       []*conv
	outage      time.Time   // when the current Redis outage began; zero: none
	erasures    []time.Time // when Redis was stopped to restart empty (no appendonly)
}

type instance struct {
	idx  int
	gen  int
	port int
	p    *proc
}

type conv struct {
	label string
	idx   int
	id    string
	owner string
	sent  int
	dead  bool
	fails int    // Say errors in a row
	guest string // a person who joined, "" if none
}

// proc is a child process.
type proc struct {
	name     string
	cmd      *exec.Cmd
	logPath  string
	done     chan struct{}
	expected bool // we stopped it
	exitErr  error
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) signal(s syscall.Signal) { _ = p.cmd.Process.Signal(s) }

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Run runs the chaos test and reports what it found. An error is a run
// that could not be set up; broken invariants are in Report.Failed.
func Run(ctx context.Context, o Options) (rep *Report, err error) {
	if o.Exe == "" {
		if o.Exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	if o.Seed == 0 {
		o.Seed = mrand.Uint64()>>1 + 1
	}
	if o.Instances < 1 {
		return nil, fmt.Errorf("--instances %d: want at least 1", o.Instances)
	}
	if o.Conversations < 1 {
		return nil, fmt.Errorf("--conversations %d: want at least 1", o.Conversations)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	r := &run{o: o, rep: &Report{Seed: o.Seed, Duration: o.Duration.String(), Instances: o.Instances, Faults: map[string]int{}}}
	if r.dir, err = os.MkdirTemp("", "ucwabot-chaos-"); err != nil {
		return nil, err
	}
	defer os.RemoveAll(r.dir)
	r.logDir = r.dir
	if o.LogDir != "" {
		r.logDir = o.LogDir
		if err := os.MkdirAll(r.logDir, 0o755); err != nil {
			return nil, err
		}
	}
	defer r.stopAll()
	if err := r.setup(ctx); err != nil {
		return r.rep, err
	}
	if err := r.chaos(ctx); err != nil {
		r.stopInstances()
		r.cleanRedis()
		return r.rep, err
	}
	r.finish()
	r.cleanRedis()
	return r.rep, nil
}

func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.o.Progress, "chaos: "+format+"\n", args...)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start starts a child; its output goes to a log file.
func (r *run) start(name, exe string, env []string, args ...string) (*proc, error) {
	path := filepath.Join(r.logDir, name+".log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = r.dir
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: path, done: make(chan struct{})}
	go func() {
		p.exitErr = cmd.Wait()
		f.Close()
		r.mu.Lock()
		exp := p.expected
		r.mu.Unlock()
		if !exp {
			r.mu.Lock()
			r.rep.Crashes = append(r.rep.Crashes, fmt.Sprintf("%s (pid %d) exited: %v", name, cmd.Process.Pid, p.exitErr))
			r.mu.Unlock()
		}
		close(p.done)
	}()
	r.mu.Lock()
	r.procs = append(r.procs, p)
	r.mu.Unlock()
	return p, nil
}

// stop ends a child we started: SIGCONT (it may be stopped), then sig,
// then SIGKILL after wait.
func (r *run) stop(p *proc, sig syscall.Signal, wait time.Duration) {
	if p == nil {
		return
	}
	r.mu.Lock()
	p.expected = true
	r.mu.Unlock()
	if !p.alive() {
		return
	}
	p.signal(syscall.SIGCONT)
	p.signal(sig)
	select {
	case <-p.done:
	case <-time.After(wait):
		p.signal(syscall.SIGKILL)
		<-p.done
	}
}

func (r *run) stopAll() {
	r.stopInstances()
	r.stop(r.sim, syscall.SIGTERM, 5*time.Second)
	r.stop(r.redis, syscall.SIGTERM, 5*time.Second)
}

// stopInstances stops every child but the simulator and Redis.
func (r *run) stopInstances() {
	r.mu.Lock()
	procs := append([]*proc(nil), r.procs...)
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		if p == r.redis || p == r.sim {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); r.stop(p, syscall.SIGTERM, 15*time.Second) }()
	}
	wg.Wait()
}

// waitLine waits until the log of p has a line matching re and returns
// its first group.
func waitLine(ctx context.Context, p *proc, re *regexp.Regexp, within time.Duration) (string, error) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(p.logPath); err == nil {
			if m := re.FindSubmatch(b); m != nil {
				return string(m[1]), nil
			}
		}
		if !p.alive() {
			return "", fmt.Errorf("%s exited before printing %s: %v", p.name, re, p.exitErr)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("%s did not print %s within %s", p.name, re, within)
}

func (r *run) setup(ctx context.Context) error {
	// Redis.
	if err := r.setupRedis(ctx); err != nil {
		return err
	}
	// Simulator.
	port, err := freePort()
	if err != nil {
		return err
	}
	users := botURI + "=" + password
	for _, p := range people {
		users += "," + personURI(p)
	}
	r.sim, err = r.start("sim", r.o.Exe, nil, "sim", "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--domain", "example.com", "--users", users, "--seed", strconv.FormatUint(r.o.Seed, 10))
	if err != nil {
		return err
	}
	discovery, err := waitLine(ctx, r.sim, regexp.MustCompile(`discovery URL: (\S+)`), 60*time.Second)
	if err != nil {
		return err
	}
	r.ctl = &simctl.Client{Base: fmt.Sprintf("http://127.0.0.1:%d", port), HTTP: &http.Client{Timeout: 10 * time.Second}}
	// Rules and instances.
	if err := os.MkdirAll(filepath.Join(r.dir, "rules"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.dir, "rules", "echo.yaml"), []byte(rulesYAML(maxPerConversation)), 0o644); err != nil {
		return err
	}
	for i := 0; i < r.o.Instances; i++ {
		in := &instance{idx: i}
		if err := r.startInstance(in, discovery); err != nil {
			return err
		}
		r.inst = append(r.inst, in)
	}
	r.discovery = discovery
	// Wait until one instance holds the account and is ready.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if r.holder() != nil && r.allAnswer() {
			r.rep.Goroutines[0], r.rep.RSSBytes[0] = r.sampleGrowth()
			r.logf("seed %d: sim pid %d, %d instances, redis %s, prefix %s", r.o.Seed, r.sim.pid(), len(r.inst), r.redisAddr, r.prefix)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("no instance holds the account after 60s; see the instance logs")
}

func (r *run) setupRedis(ctx context.Context) error {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	r.prefix = "ucwabot-chaos-" + hex.EncodeToString(b)
	url := r.o.RedisURL
	if url == "" {
		url = os.Getenv("REDIS_URL")
	}
	if url != "" {
		r.redisURL = url
		opt, err := redis.ParseURL(url)
		if err != nil {
			return fmt.Errorf("--redis-url: %w", err)
		}
		r.redisAddr = opt.Addr
		return r.pingRedis(ctx)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	r.redisAddr = fmt.Sprintf("127.0.0.1:%d", port)
	r.redisURL = "redis://" + r.redisAddr + "/0"
	if err := os.MkdirAll(filepath.Join(r.dir, "redis"), 0o700); err != nil {
		return err
	}
	return r.startRedis(ctx)
}

func (r *run) startRedis(ctx context.Context) error {
	_, port, _ := net.SplitHostPort(r.redisAddr)
	ao := "no"
	if r.o.AppendOnly {
		ao = "yes"
	}
	p, err := r.start("redis", "redis-server", nil, "--port", port, "--bind", "127.0.0.1",
		"--dir", filepath.Join(r.dir, "redis"), "--appendonly", ao, "--save", "")
	if err != nil {
		return err
	}
	r.redis = p
	return r.pingRedis(ctx)
}

func (r *run) pingRedis(ctx context.Context) error {
	opt, err := redis.ParseURL(r.redisURL)
	if err != nil {
		return err
	}
	c := redis.NewClient(opt)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = c.Ping(ctx).Err()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cleanRedis deletes the run's keys from a shared Redis (never FLUSHALL)
// and counts the keys left behind by the service before that.
func (r *run) cleanRedis() {
	opt, err := redis.ParseURL(r.redisURL)
	if err != nil {
		return
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, "*"+r.prefix+"*", 500).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	r.rep.KeysLeft = len(keys)
	for len(keys) > 0 {
		n := min(len(keys), 500)
		_ = c.Del(ctx, keys[:n]...).Err()
		keys = keys[n:]
	}
}
