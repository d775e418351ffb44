package main

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// sceneStep is one thing a person does in the demo (the line starting
// with "→ ") and lines (regular expressions) the transcript must show
// before the next step. Their order is checked by
// TestDemo_transcript_is_the_same_every_run.
type sceneStep struct {
	did  string
	want []string
}

// checkScene reports the first step whose line or reactions are missing
// from the transcript; steps must appear in order.
func checkScene(out string, steps []sceneStep) error {
	var segments [][]string // each starts with a "→ " line
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "→ ") {
			segments = append(segments, []string{line})
		} else if len(segments) > 0 {
			segments[len(segments)-1] = append(segments[len(segments)-1], line)
		}
	}
	i := 0
	for _, st := range steps {
		for i < len(segments) && segments[i][0] != "→ "+st.did {
			i++
		}
		if i == len(segments) {
			return fmt.Errorf("no step %q (in order)", st.did)
		}
		for _, w := range st.want {
			re := regexp.MustCompile(w)
			if !slices.ContainsFunc(segments[i][1:], re.MatchString) {
				return fmt.Errorf("step %q lacks a line matching %q", st.did, w)
			}
		}
		i++
	}
	return nil
}

func TestDemo_piped_plays_the_scene_and_exits_0(t *testing.T) {
	r := runBot(t, "", nil, "demo")
	if r.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s\nstdout:\n%s", r.code, r.stderr, r.stdout)
	}
	err := checkScene(r.stdout, []sceneStep{
		{"Alice Lee invites the bot: Hi, my VPN is down since this morning", []string{
			`^\s+\[invitation\.received\] Alice Lee: "Hi, my VPN is down`,
			`^\s+\[participant\.joined\] Alice Lee\s+rules: greet$`,
			`^← Helpdesk: Hello Alice Lee`,
			`^\s+\[message\.received\] Alice Lee: "Hi, my VPN is down since this morning"\s+rules: remember-topic, vpn-incident$`,
		}},
		{"Bob Kim joins the conversation", []string{
			`^\s+\[participant\.joined\] Bob Kim\s+rules: greet$`,
			`^← Helpdesk: Hello Bob Kim`,
		}},
		{"Alice Lee: What is the status of the VPN?", []string{
			`^\s+\[message\.received\] Alice Lee: "What is the status of the VPN\?"\s+rules: status$`,
			`^← Helpdesk: Current incident INC-`,
		}},
		{"Bob Kim leaves the conversation", []string{
			`^\s+\[participant\.left\] Bob Kim\s+rules: someone-left$`,
			`^← Helpdesk: Bob Kim has left the conversation`,
		}},
		{"Alice Lee ends the conversation", []string{
			`^\s+\[conversation\.ended\]`,
			`^The scene is over\.$`,
		}},
	})
	if err != nil {
		t.Errorf("%v; transcript:\n%s", err, r.stdout)
	}
	// Without a terminal there is no interactive mode.
	if strings.Contains(r.stdout, "Act as one of the people") || strings.Contains(r.stdout, "handler error") {
		t.Errorf("unexpected interactive prompt or handler error:\n%s", r.stdout)
	}
}

// ptyOutput collects what a process writes to its terminal.
type ptyOutput struct {
	mu   sync.Mutex
	buf  strings.Builder
	done chan struct{}
}

func (o *ptyOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.ReplaceAll(o.buf.String(), "\r", "")
}

// waitFor waits until the output after offset from matches re and returns
// the end of the match.
func (o *ptyOutput) waitFor(t *testing.T, from int, re *regexp.Regexp, within time.Duration) int {
	t.Helper()
	deadline := time.After(within)
	for {
		out := o.String()
		if loc := re.FindStringIndex(out[from:]); loc != nil {
			return from + loc[1]
		}
		select {
		case <-deadline:
			t.Fatalf("%q did not appear within %s; output:\n%s", re, within, out)
		case <-o.done:
			if loc := re.FindStringIndex(o.String()[from:]); loc != nil {
				return from + loc[1]
			}
			t.Fatalf("the demo ended before %q appeared; output:\n%s", re, o.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestDemo_on_a_terminal_lets_the_user_act_as_the_people(t *testing.T) {
	cmd := exec.Command(botBin, "demo")
	cmd.Env = cleanEnv()
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	out := &ptyOutput{done: make(chan struct{})}
	go func() {
		defer close(out.done)
		r := bufio.NewReader(tty)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			out.mu.Lock()
			out.buf.Write(buf[:n])
			out.mu.Unlock()
			if err != nil { // EIO once the process has exited
				return
			}
		}
	}()
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	const within = 30 * time.Second
	prompt := regexp.MustCompile(`(?m)^> `)
	pos := out.waitFor(t, 0, regexp.MustCompile(`The scene is over\.`), within)
	pos = out.waitFor(t, pos, prompt, within)

	type step struct {
		input string
		want  []*regexp.Regexp
	}
	for _, s := range []step{
		{"invite alice my printer is broken", []*regexp.Regexp{
			regexp.MustCompile(`→ Alice Lee invites the bot: my printer is broken`),
			regexp.MustCompile(`\[message\.received\] Alice Lee: "my printer is broken"\s+rules: remember-topic`),
		}},
		{"join carol", []*regexp.Regexp{
			regexp.MustCompile(`→ Carol Diaz joins the conversation`),
			regexp.MustCompile(`\[participant\.joined\] Carol Diaz\s+rules: greet`),
			regexp.MustCompile(`← Helpdesk: Hello Carol Diaz`),
		}},
		{"say alice What is the status of the VPN?", []*regexp.Regexp{
			regexp.MustCompile(`\[message\.received\] Alice Lee: "What is the status of the VPN\?"\s+rules: status`),
			regexp.MustCompile(`← Helpdesk: Current incident INC-`),
		}},
		{"say erin hello", []*regexp.Regexp{
			regexp.MustCompile(`unknown person "erin"`),
		}},
	} {
		if _, err := io.WriteString(tty, s.input+"\r"); err != nil {
			t.Fatal(err)
		}
		// Each reaction appears after the typed line.
		end := pos
		for _, re := range s.want {
			end = max(end, out.waitFor(t, pos, re, within))
		}
		pos = out.waitFor(t, end, prompt, within)
	}
	if _, err := io.WriteString(tty, "quit\r"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("bot demo: %v; output:\n%s", waitErr, out.String())
		}
	case <-time.After(within):
		t.Fatalf("bot demo did not exit after quit; output:\n%s", out.String())
	}
	if strings.Contains(out.String(), "handler error") {
		t.Errorf("handler errors:\n%s", out.String())
	}
}

// TestDemo_transcript_is_the_same_every_run plays the demo 30 times (two
// at a time) and expects one transcript, in which every bot reply stands
// below the event that caused it.
func TestDemo_transcript_is_the_same_every_run(t *testing.T) {
	const runs = 30
	outs := make([]string, runs)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := runBot(t, "", nil, "demo")
			if r.code != 0 {
				t.Errorf("run %d: exit %d: %s", i, r.code, r.stderr)
			}
			// The first line names the simulator's port.
			_, outs[i], _ = strings.Cut(r.stdout, "\n")
		}()
	}
	wg.Wait()
	distinct := map[string]int{}
	for _, o := range outs {
		distinct[o]++
	}
	if len(distinct) != 1 {
		for o, n := range distinct {
			t.Logf("%d runs:\n%s", n, o)
		}
		t.Fatalf("%d different transcripts in %d runs", len(distinct), runs)
	}
	// A reply follows the event line it answers, never stands above it.
	lines := strings.Split(outs[0], "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "← Helpdesk: ") {
			prev := lines[i-1]
			if !strings.HasPrefix(prev, "   [") || !strings.Contains(prev, "rules: ") {
				t.Errorf("line %d %q follows %q, not the event whose rule answered", i, l, prev)
			}
		}
	}
	want := []string{
		`   [participant.joined] Alice Lee  rules: greet`,
		`← Helpdesk: Hello Alice Lee`,
		`   [conversation.started]`,
		`   [message.received] Alice Lee: "Hi, my VPN is down since this morning"  rules: remember-topic, vpn-incident`,
		`← Helpdesk: Thanks for reporting, Alice Lee.`,
		`→ Bob Kim joins the conversation`,
	}
	if !inOrder(lines, want) {
		t.Errorf("transcript lacks, in order, %q:\n%s", want, outs[0])
	}
}

// TestDemo_say_after_the_scene_starts_a_new_conversation feeds the README's
// interactive example on standard input: the scene has ended its
// conversation, so Alice's line starts a new one and the bot answers it.
func TestDemo_say_after_the_scene_starts_a_new_conversation(t *testing.T) {
	r := runBot(t, "say alice is the VPN back?\njoin bob\nquit\n", nil, "demo", "--interactive")
	if r.code != 0 {
		t.Fatalf("exit %d: %s\n%s", r.code, r.stderr, r.stdout)
	}
	_, after, ok := strings.Cut(r.stdout, "The scene is over.")
	if !ok {
		t.Fatalf("no scene:\n%s", r.stdout)
	}
	lines := strings.Split(after, "\n")
	want := []string{
		`> → Alice Lee starts a new conversation: is the VPN back?`,
		`   [invitation.received] Alice Lee: "is the VPN back?"`,
		`   [message.received] Alice Lee: "is the VPN back?"  rules: remember-topic, vpn-incident`,
		`← Helpdesk: Thanks for reporting, Alice Lee.`,
		`> → Bob Kim joins the conversation`,
		`   [participant.joined] Bob Kim`,
	}
	if !inOrder(lines, want) {
		t.Errorf("after the scene, the output lacks, in order, %q:\n%s", want, after)
	}
	for _, bad := range []string{"conversation has ended", "no conversation", "handler error", "no event within"} {
		if strings.Contains(after, bad) {
			t.Errorf("%q after the scene:\n%s", bad, after)
		}
	}
}
