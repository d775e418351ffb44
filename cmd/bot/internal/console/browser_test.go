package console_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ucwabot/ucwabot/bot"
	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/console"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/demo"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/ops"
	"github.com/ucwabot/ucwabot/examples"
	_ "github.com/ucwabot/ucwabot/plugins/standard"
)

var screenshots = flag.String("screenshots", "", "write screenshots of the console's views into this `directory` (docs/ to update the README's)")

// chromium finds a headless-capable browser on PATH.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH (looked for chromium, chromium-browser, google-chrome): the console's browser tests need it; .ci/run installs Debian's chromium package when it is missing (apt-get install chromium)")
	return ""
}

// syncBuffer is a bytes.Buffer safe for the demo's writer goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDemo runs `bot demo --web` in-process and returns the URL it prints.
func startDemo(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- demo.Run(ctx, demo.Options{
			Out: out, Web: true, WebReady: func(u string) { urls <- u },
			RulesName: "examples/rules/helpdesk.yaml", Rules: examples.HelpdeskRules,
		})
	}()
	var ended error
	stopped := false
	t.Cleanup(func() {
		cancel()
		if !stopped {
			ended = <-done
		}
		if ended != nil {
			t.Errorf("demo: %v", ended)
		}
	})
	select {
	case u := <-urls:
		if !strings.Contains(out.String(), u) {
			t.Fatalf("the demo did not print its URL %s:\n%s", u, out)
		}
		return u
	case err := <-done:
		stopped = true
		t.Fatalf("demo ended before serving: %v\n%s", err, out)
	case <-time.After(60 * time.Second):
		t.Fatalf("demo did not serve within 60s:\n%s", out)
	}
	return ""
}

func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	return ctx
}

func shoot(t *testing.T, ctx context.Context, name string) {
	if *screenshots == "" {
		return
	}
	if err := chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*screenshots, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitText waits until the element's text contains want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	poll := chromedp.Poll[bool](fmt.Sprintf(`!!((document.querySelector(%q)||{}).textContent||"").includes(%q)`, sel, want),
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := poll(ctx, t); err != nil {
			return fmt.Errorf("waiting for %q in %s: %w", want, sel, err)
		}
		return nil
	})
}

func TestConsole_in_a_browser_plays_watches_and_edits_the_rules(t *testing.T) {
	url := startDemo(t)
	ctx := browser(t)

	// The playground: Alice writes, the reply and its trace show.
	err := chromedp.Do(ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(`#play`),
		chromedp.WaitVisible(`#pg-text`),
		chromedp.SendKeys(`#pg-text`, "Hi, my VPN is down"),
		chromedp.Click(`#pg-send`),
		waitText(`#pg-transcript`, "this is the Contoso IT helpdesk bot"),
		waitText(`#pg-transcript`, "known incident"),
		waitText(`#pg-traces`, "✓ greet"),
		waitText(`#pg-traces`, "greet / reply"),
	)
	if err != nil {
		t.Fatalf("playground: %v", err)
	}
	shoot(t, ctx, "console-playground.png")

	// The live view lists the conversation with Alice and its events.
	err = chromedp.Do(ctx,
		chromedp.Click(`#tab-live`),
		chromedp.WaitVisible(`#live`),
		waitText(`#accounts`, "sip:helpdesk@contoso.com"),
		waitText(`#conv-list`, "alice"),
		chromedp.Click(`#conv-list .conv`),
		waitText(`#traces`, "message.received"),
		waitText(`#traces`, "Thanks for reporting"),
	)
	if err != nil {
		t.Fatalf("live view: %v", err)
	}
	shoot(t, ctx, "console-live.png")

	// The editor: a broken condition is shown at its line; fixed and
	// changed, it is applied and the bot's greeting changes.
	err = chromedp.Do(ctx,
		chromedp.Click(`#tab-rules`),
		chromedp.WaitVisible(`#editor`),
		waitText(`#check-status`, "rules load"),
	)
	if err != nil {
		t.Fatalf("rules view: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Value(`#editor`))
	if err != nil {
		t.Fatal(err)
	}
	const cond = `when: '!participant.local'`
	line := 1 + strings.Count(text[:strings.Index(text, cond)], "\n")
	broken := strings.Replace(text, cond, `when: '!participant.local &&'`, 1)
	err = chromedp.Do(ctx,
		setEditor(broken),
		waitText(`#check-status`, "problem"),
		waitText(`#problems`, fmt.Sprintf("helpdesk.yaml:%d:", line)),
	)
	if err != nil {
		t.Fatalf("broken rule: %v", err)
	}
	bad, err := chromedp.Run(ctx, chromedp.TextContent(`#gutter .bad`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(bad) != fmt.Sprint(line) {
		t.Errorf("the gutter marks line %q, want %d", bad, line)
	}
	// Choosing the problem puts the cursor on its line.
	if err := chromedp.Do(ctx, chromedp.Click(`#problems button`)); err != nil {
		t.Fatal(err)
	}
	at, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(() => { const e = document.querySelector('#editor'); return e.value.slice(0, e.selectionStart).split("\n").length })()`))
	if err != nil {
		t.Fatal(err)
	}
	if at != line {
		t.Errorf("choosing the problem put the cursor on line %d, want %d", at, line)
	}
	shoot(t, ctx, "console-rules.png")
	fixed := strings.Replace(text, "this is the Contoso IT helpdesk bot", "this is the console-edited helpdesk bot", 1)
	err = chromedp.Do(ctx,
		setEditor(fixed),
		waitText(`#check-status`, "rules load"),
		chromedp.Click(`#apply:not([disabled])`),
		waitText(`#check-status`, "applied"),
		chromedp.Click(`#tab-play`),
		chromedp.WaitVisible(`#pg-who`),
		chromedp.SetValue(`#pg-who`, "bob"),
		chromedp.SendKeys(`#pg-text`, "Hello there"),
		chromedp.Click(`[data-verb=invite]`),
		waitText(`#pg-transcript`, "this is the console-edited helpdesk bot"),
	)
	if err != nil {
		t.Fatalf("applied rule: %v", err)
	}
}

// setEditor replaces the editor's text as typing would.
func setEditor(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SetValue(`#editor`, text),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.querySelector('#editor').dispatchEvent(new Event('input'))`)(ctx, t)
			return err
		}),
	)
}

func TestConsole_in_a_browser_lists_a_thousand_conversations_with_few_rows(t *testing.T) {
	hub := console.NewHub(0)
	for i := range 1000 {
		hub.Trace(&bot.Trace{Account: "sip:bot@example.com", Conversation: fmt.Sprintf("conv-%04d", i), EventID: fmt.Sprint(i),
			Kind: event.MessageReceived, From: fmt.Sprintf("sip:person%04d@example.com", i), Text: "hello", Start: time.Now()})
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = ops.Handler(ops.Options{Listen: srv.Listener.Addr().String(),
		Console: console.Handler(console.Options{Hub: hub})})
	srv.Start()
	t.Cleanup(srv.Close) // after the browser's cleanup, which closes the page's stream
	ctx := browser(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/console/"),
		chromedp.WaitVisible(`#conv-list`),
		waitText(`#conv-count`, "(1000)"),
		waitText(`#conv-list`, "person0999"),
	)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#conv-list .conv').length`))
	if err != nil {
		t.Fatal(err)
	}
	if rows == 0 || rows > 60 {
		t.Errorf("%d conversation rows in the page for 1,000 conversations, want only the visible ones (at most 60)", rows)
	}
	// Scrolled to the end, the oldest conversation shows.
	err = chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`(() => { const l = document.querySelector('#conv-list'); l.scrollTop = l.scrollHeight; l.dispatchEvent(new Event('scroll')); return true })()`)(ctx, tg)
			return err
		}),
		waitText(`#conv-list`, "person0000"),
	)
	if err != nil {
		t.Fatal(err)
	}
	// A new event arrives over the stream without a reload.
	hub.Trace(&bot.Trace{Account: "sip:bot@example.com", Conversation: "conv-new", EventID: "new",
		Kind: event.MessageReceived, From: "sip:newcomer@example.com", Text: "just arrived", Start: time.Now()})
	if err := chromedp.Do(ctx, waitText(`#conv-count`, "(1001)"), waitText(`#traces`, "just arrived")); err != nil {
		t.Fatal(err)
	}
}
