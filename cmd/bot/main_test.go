package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/cmd/bot/botcli"
)

// botBin is the binary built once for every test that runs it as a
// process.
var botBin string

const testVersion = "v0.0.0-test"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ucwabot-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	botBin = filepath.Join(dir, "bot")
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+testVersion, "-o", botBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build bot:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is a finished process.
type result struct {
	code           int
	stdout, stderr string
}

// runBot runs the binary to completion with stdin and extra environment.
func runBot(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, botBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run bot %v: %v", args, err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// cleanEnv is the test's environment without UCWABOT_ variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "UCWABOT_") {
			env = append(env, kv)
		}
	}
	return env
}

// proc is a long-running bot process whose output is collected.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer // stdout and stderr, interleaved
	done chan struct{}
}

func startBot(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startBotIn(t, "", env, args...)
}

// startBotIn starts the binary in directory dir ("" for the test's).
func startBotIn(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(botBin, args...), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Env = append(cleanEnv(), env...)
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	go func() {
		_ = p.cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until the output matches re and returns the first
// submatch (or the whole match).
func (p *proc) waitFor(t *testing.T, re *regexp.Regexp, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			return m[len(m)-1]
		}
		select {
		case <-p.done:
			if m := re.FindStringSubmatch(p.output()); m != nil {
				return m[len(m)-1]
			}
			t.Fatalf("process exited before %q appeared; output:\n%s", re, p.output())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%q did not appear within %s; output:\n%s", re, within, p.output())
	return ""
}

// stop sends SIGTERM and waits for the exit (then kills).
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("process %d did not stop on SIGINT; output:\n%s", p.cmd.Process.Pid, p.output())
	}
	return p.cmd.ProcessState.ExitCode()
}

func TestHelp_every_command_prints_its_usage(t *testing.T) {
	for _, name := range botcli.CommandNames() {
		t.Run(name, func(t *testing.T) {
			r := runBot(t, "", nil, append(strings.Fields(name), "--help")...)
			if r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: bot "+name) {
				t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
		})
	}
	r := runBot(t, "", nil, "help")
	for _, name := range botcli.CommandNames() {
		if !strings.Contains(r.stdout, name) {
			t.Errorf("bot help lacks %q", name)
		}
	}
}

func TestUnknown_command_exits_2_with_usage(t *testing.T) {
	r := runBot(t, "", nil, "frobnicate")
	if r.code != 2 || !strings.Contains(r.stderr, `unknown command frobnicate`) || !strings.Contains(r.stderr, "Commands:") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = runBot(t, "", nil, "version", "--bogus")
	if r.code != 2 || !strings.Contains(r.stderr, "flag provided but not defined: -bogus") {
		t.Errorf("bad flag: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestVersion_prints_the_ldflags_version(t *testing.T) {
	r := runBot(t, "", nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ucwabot "+testVersion+"\ncommit: ") {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestRun_reports_config_errors_with_position_and_key(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bot.yaml")
	writeFile(t, path, "accounts:\n  - address: bot@example.com\n    pasword: x\n    password_env: P\nrules: [r.yaml]\nengine:\n  workers: eight\n")
	r := runBot(t, "", nil, "run", "--config", path)
	want := []string{
		path + ":3:5: accounts[0].pasword: unknown key",
		path + `:7:12: engine.workers: "eight" is not a whole number`,
	}
	if r.code != 1 {
		t.Errorf("exit %d", r.code)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	r = runBot(t, "", []string{"UCWABOT_LOG_LEVEL=loud"}, "run", "--config", path)
	if r.code != 1 {
		t.Errorf("env: exit %d", r.code)
	}
}

func TestRun_refuses_inline_password(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.yaml")
	writeFile(t, path, "accounts:\n  - address: bot@example.com\n    password: Hunter2-inline\nrules: [r.yaml]\n")
	r := runBot(t, "", nil, "run", "--config", path)
	if r.code != 1 || !strings.Contains(r.stderr, ":3:5: accounts[0].password: inline passwords are not accepted; use password_env or password_file") ||
		strings.Contains(r.stderr, "Hunter2-inline") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestDecode_prints_one_object_per_event_with_six_keys(t *testing.T) {
	sample := filepath.Join("..", "..", "ucwa", "testdata", "samples", "ReceiveAnIM__doc-events__1.json")
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"file", "", []string{"decode", sample}},
		{"stdin", readFile(t, sample), []string{"decode"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBot(t, tc.stdin, nil, tc.args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			// The sample holds four events from "me" and one from "communication".
			if len(lines) != 5 {
				t.Fatalf("%d lines:\n%s", len(lines), r.stdout)
			}
			for _, line := range lines {
				var m map[string]string
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				var keys []string
				for k := range m {
					keys = append(keys, k)
				}
				if len(m) != 6 || m["sender"] == "" || m["rel"] == "" || m["type"] == "" || m["href"] == "" {
					t.Errorf("line %q has keys %v", line, keys)
				}
				for _, k := range []string{"sender", "rel", "type", "href", "in", "event"} {
					if _, ok := m[k]; !ok {
						t.Errorf("line %q lacks %s", line, k)
					}
				}
			}
			if !strings.Contains(lines[1], `"rel":"presence"`) || !strings.Contains(lines[1], `"type":"added"`) || !strings.Contains(lines[1], `"sender":"me"`) {
				t.Errorf("second line %q", lines[1])
			}
		})
	}
}

func TestDecode_malformed_input_is_one_line_error_and_exit_1(t *testing.T) {
	r := runBot(t, `{"sender": [ {"rel": "me", `, nil, "decode")
	if r.code != 1 || r.stdout != "" {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "bot decode: <stdin>: ") {
		t.Errorf("stderr %q", r.stderr)
	}
	r = runBot(t, "", nil, "decode", filepath.Join(t.TempDir(), "missing.json"))
	if r.code != 1 || !strings.Contains(r.stderr, "missing.json") {
		t.Errorf("missing file: exit %d, stderr %q", r.code, r.stderr)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
