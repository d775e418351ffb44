package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// repoRoot is the repository's top directory, from cmd/bot.
var repoRoot = filepath.Join("..", "..")

// docSection returns the shell lines of the ```sh blocks of the section of
// docs/operations.md whose heading is title, one list per block.
func docSection(t *testing.T, title string) [][]string {
	t.Helper()
	doc := readFile(t, filepath.Join(repoRoot, "docs", "operations.md"))
	i := strings.Index(doc, "\n## "+title+"\n")
	if i < 0 {
		t.Fatalf("docs/operations.md has no section %q", title)
	}
	sec := doc[i+1:]
	// The section ends at the next heading of its level or below.
	for _, h := range []string{"\n## ", "\n### "} {
		if j := strings.Index(sec[3:], h); j >= 0 {
			sec = sec[:j+3]
		}
	}
	var blocks [][]string
	for {
		start := strings.Index(sec, "```sh\n")
		if start < 0 {
			return blocks
		}
		sec = sec[start+len("```sh\n"):]
		end := strings.Index(sec, "```")
		var lines []string
		for _, l := range strings.Split(sec[:end], "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		blocks = append(blocks, lines)
		sec = sec[end+3:]
	}
}

// freshClone copies what the walkthrough reads (examples/config and
// examples/rules) into a new directory laid out as the repository, with
// no bot-data directory, and returns it.
func freshClone(t *testing.T, replace *strings.Replacer) string {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"config", "rules"} {
		files, err := filepath.Glob(filepath.Join(repoRoot, "examples", sub, "*.yaml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("examples/%s: %v", sub, err)
		}
		for _, f := range files {
			writeFile(t, filepath.Join(dir, "examples", sub, filepath.Base(f)), replace.Replace(readFile(t, f)))
		}
	}
	return dir
}

// botCommand turns a documented command line ("VAR=x go run ./cmd/bot run
// ... &") into the environment and arguments of the built binary.
func botCommand(t *testing.T, line string) (env, args []string) {
	t.Helper()
	f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), "&"))
	for len(f) > 0 && regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`).MatchString(f[0]) {
		env, f = append(env, f[0]), f[1:]
	}
	if len(f) < 3 || f[0] != "go" || f[1] != "run" || f[2] != "./cmd/bot" {
		t.Fatalf("documented command %q does not start with go run ./cmd/bot", line)
	}
	return env, f[3:]
}

// shell runs one documented line with bash in dir, as a person would type
// it, with vars set, and returns its standard output.
func shell(t *testing.T, dir string, vars []string, line string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", line)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), vars...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, errb.String())
	}
	return out.String()
}

// TestWalkthrough_simulator_runs_as_documented runs "Trying the bot against
// the simulator" of docs/operations.md command by command in a fresh copy
// of the examples, as a newcomer would: bot sim and bot run as their own
// processes, then the documented curl calls to the simulator's control
// routes, and expects the bot's replies in the transcript. Only the fixed
// ports of the page are replaced by free ones, in the commands and in
// examples/config/simulator.yaml alike.
func TestWalkthrough_simulator_runs_as_documented(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the walkthrough uses %s, which is not installed: %v", tool, err)
		}
	}
	blocks := docSection(t, "Trying the bot against the simulator")
	if len(blocks) != 2 || len(blocks[0]) != 2 || len(blocks[1]) < 3 {
		t.Fatalf("the walkthrough's command blocks changed shape: %q", blocks)
	}
	simAddr, httpAddr := freeAddr(t), freeAddr(t)
	ports := strings.NewReplacer("127.0.0.1:8443", simAddr, "127.0.0.1:8080", httpAddr)
	dir := freshClone(t, ports)

	// go run ./cmd/bot sim ... &
	env, args := botCommand(t, ports.Replace(blocks[0][0]))
	sim := startBotIn(t, dir, env, args...)
	sim.waitFor(t, regexp.MustCompile(`discovery URL: (\S+)`), 30*time.Second)

	// UCWABOT_SIM_PASSWORD=secret go run ./cmd/bot run --config examples/config/simulator.yaml
	env, args = botCommand(t, ports.Replace(blocks[0][1]))
	bot := startBotIn(t, dir, env, args...)
	eventually(t, 30*time.Second, "/readyz of the walkthrough's bot answers 200", func() error {
		code, body, err := httpDo(http.MethodGet, "http://"+httpAddr+"/readyz", "", nil)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("%d %s", code, body)
		}
		if err != nil {
			return fmt.Errorf("%v; bot output:\n%s", err, bot.output())
		}
		return nil
	})

	// The curl calls, one at a time; the first sets $id for the others.
	curl := blocks[1]
	id := strings.TrimSpace(shell(t, dir, nil, ports.Replace(curl[0])+`; printf %s "$id"`))
	if id == "" || id == "null" {
		t.Fatalf("the invitation gave no conversation id: %q", id)
	}
	vars := []string{"id=" + id}
	for _, line := range curl[1 : len(curl)-1] {
		shell(t, dir, vars, ports.Replace(line))
	}
	// The last shows the transcript; a person would look again until the
	// bot has answered.
	var transcript string
	eventually(t, 30*time.Second, "the bot's replies appear in the transcript", func() error {
		transcript = shell(t, dir, vars, ports.Replace(curl[len(curl)-1]))
		for _, want := range []string{`"Text":"hello"`, `"Text":"Hello alice, this is the Contoso IT helpdesk bot.`, `"Text":"help"`} {
			if !strings.Contains(transcript, want) {
				return fmt.Errorf("transcript lacks %s: %s", want, transcript)
			}
		}
		// "hello" reaches the fallback rule's answer, "help" the list of
		// the helpdesk's commands.
		if n := strings.Count(transcript, `"From":"sip:bot@contoso.com","Text":"I have passed this on to a technician`); n != 1 {
			return fmt.Errorf("%d fallback answers, want 1: %s", n, transcript)
		}
		if !strings.Contains(transcript, `"From":"sip:bot@contoso.com","Text":"Here is what you can ask me:\nhotline`) {
			return fmt.Errorf("no help answer: %s", transcript)
		}
		return nil
	})
	if strings.Contains(bot.output(), `level=error`) {
		t.Errorf("the bot logged errors:\n%s", bot.output())
	}
	// The default store directory of the example was created in the clone.
	if _, err := os.Stat(filepath.Join(dir, "bot-data", "simulator.db")); err != nil {
		t.Errorf("the example's embedded store: %v", err)
	}
	if code := bot.stop(t); code != 0 {
		t.Errorf("bot run exited %d:\n%s", code, bot.output())
	}
	if code := sim.stop(t); code != 0 {
		t.Errorf("bot sim exited %d:\n%s", code, sim.output())
	}
}
