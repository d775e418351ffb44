package bot

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/ucwabot/ucwabot/store/redisstore"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

var (
	testbotOnce sync.Once
	testbotPath string
	testbotErr  error
)

// buildTestbot builds bot/internal/testbot once per test binary.
func buildTestbot(t *testing.T) string {
	t.Helper()
	testbotOnce.Do(func() {
		dir, err := os.MkdirTemp("", "testbot")
		if err != nil {
			testbotErr = err
			return
		}
		testbotPath = filepath.Join(dir, "testbot")
		out, err := exec.Command("go", "build", "-o", testbotPath, "./internal/testbot").CombinedOutput()
		if err != nil {
			testbotErr = fmt.Errorf("go build testbot: %v\n%s", err, out)
		}
	})
	if testbotErr != nil {
		t.Fatal(testbotErr)
	}
	return testbotPath
}

// process is a testbot the test started.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

func startTestbot(t *testing.T, name string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(buildTestbot(t), args...)
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s log:\n%s", name, b)
		}
	})
	return p
}

// kill ends the process with SIGKILL and waits for it.
func (p *process) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *process) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func waitConnected(t *testing.T, conv *ucwasim.Conversation) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for conv.State() != "Connected" {
		if time.Now().After(deadline) {
			t.Fatalf("conversation %s still %s", conv.ID(), conv.State())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEngine_SIGKILL_mid_batch_then_restart_replays_without_a_duplicate_reply(t *testing.T) {
	sim := newSim(t, 1)
	db := filepath.Join(t.TempDir(), "bot.db")
	args := []string{"-discovery", sim.DiscoveryURL(), "-address", botURI, "-password", botPW, "-bolt", db, "-delay", "150ms", "-lease", "1s"}
	p1 := startTestbot(t, "first", args...)

	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	waitConnected(t, conv)
	var want []string
	for i := 1; i <= 6; i++ {
		text := fmt.Sprintf("m%d", i)
		if err := conv.Say(aliceURI, text); err != nil {
			t.Fatal(err)
		}
		want = append(want, "echo: "+text)
	}
	// Kill it as soon as it answered something: the rest of the batch is
	// in its inbox, some of it maybe half handled.
	deadline := time.Now().Add(15 * time.Second)
	for len(botSaid(sim, conv.ID())) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("first bot never answered; said %q", botSaid(sim, conv.ID()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	p1.kill()
	if n := len(botSaid(sim, conv.ID())); n >= 7 {
		t.Fatalf("the bot answered everything (%d) before it was killed; the test proves nothing", n)
	}
	startTestbot(t, "second", args...)
	waitReplies(t, sim, conv.ID(), append([]string{"echo: m0"}, want...)...)
}

func redisTestURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// redisPrefix returns a fresh key prefix whose keys are removed when t ends.
func redisPrefix(t *testing.T) string {
	t.Helper()
	prefix := "ucwabot-bottest:" + uuid.NewString()[:12]
	opts, err := redis.ParseURL(redisTestURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("the engine's takeover test needs Redis at %s: %v", redisTestURL(), err)
	}
	t.Cleanup(func() {
		defer rdb.Close()
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			rdb.Unlink(ctx, iter.Val())
		}
	})
	return prefix
}

func TestEngine_three_instances_on_Redis_one_killed_another_takes_over_with_one_reply_per_message(t *testing.T) {
	sim := newSim(t, 1)
	prefix := redisPrefix(t)
	const ttl = 2 * time.Second
	procs := map[string]*process{}
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("inst%d", i)
		procs[id] = startTestbot(t, id, "-discovery", sim.DiscoveryURL(), "-address", botURI, "-password", botPW,
			"-redis", redisTestURL(), "-prefix", prefix, "-instance", id, "-delay", "100ms", "-lease", ttl.String())
	}
	st, err := redisstore.Open(context.Background(), redisTestURL(), redisstore.Options{Prefix: prefix, Consumer: "observer"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	waitConnected(t, conv)
	waitReplies(t, sim, conv.ID(), "echo: m0")
	holder, err := st.LeaseHolder(context.Background(), botURI)
	if err != nil {
		t.Fatal(err)
	}
	first := procs[holder.Owner]
	if first == nil {
		t.Fatalf("lease held by %q, not one of the test's instances", holder.Owner)
	}
	want := []string{"echo: m0"}
	for i := 1; i <= 4; i++ {
		text := fmt.Sprintf("m%d", i)
		if err := conv.Say(aliceURI, text); err != nil {
			t.Fatal(err)
		}
		want = append(want, "echo: "+text)
	}
	time.Sleep(120 * time.Millisecond) // paces the kill: some of m1-m4 are in flight or unhandled
	first.kill()
	killed := time.Now()

	for i := 5; i <= 8; i++ {
		text := fmt.Sprintf("m%d", i)
		if err := conv.Say(aliceURI, text); err != nil {
			t.Fatal(err)
		}
		want = append(want, "echo: "+text)
		time.Sleep(50 * time.Millisecond)
	}
	waitReplies(t, sim, conv.ID(), want...)
	next, err := st.LeaseHolder(context.Background(), botURI)
	if err != nil {
		t.Fatal(err)
	}
	if next.Owner == holder.Owner || procs[next.Owner] == nil || !procs[next.Owner].alive() {
		t.Fatalf("lease now held by %q (was %q)", next.Owner, holder.Owner)
	}
	if next.Token <= holder.Token {
		t.Fatalf("fencing token did not grow: %d → %d", holder.Token, next.Token)
	}
	t.Logf("takeover: all replies within %v of the kill (lease TTL %v)", time.Since(killed).Round(time.Millisecond), ttl)
	if !strings.HasPrefix(next.Owner, "inst") {
		t.Fatal("unexpected owner")
	}
}
