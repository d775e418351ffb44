package bottest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/bottest"
)

const replyRules = `version: 1
rules:
  - name: answer
    on: message.received
    do:
      - reply: {text: "%s {{.Message.Text}}"}
`

// A rules file changes while a conversation is busy: a good change takes
// over between two messages, a broken change leaves the running rules
// answering, and every message is answered exactly once throughout.
func TestReload_under_traffic_good_then_broken_change(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf(replyRules, "v1:"))
	b := bottest.New(t, bottest.RulesFiles(path))
	c := b.Invite("sip:alice@contoso.com", "m0")
	c.ExpectReply("v1: m0")

	// Alice keeps writing while the rules change underneath.
	var (
		mu   sync.Mutex
		sent []string
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			text := fmt.Sprintf("m%d", i)
			c.Say(text)
			mu.Lock()
			sent = append(sent, text)
			mu.Unlock()
			time.Sleep(30 * time.Millisecond)
		}
	}()
	sentCount := func() int { mu.Lock(); defer mu.Unlock(); return len(sent) }
	b.Eventually("a few messages under v1", func() bool { return sentCount() >= 5 })

	write(fmt.Sprintf(replyRules, "v2:"))
	v1 := b.Reloader.Current().Version()
	set, err := b.Reloader.Reload()
	if err != nil || set.Version() == v1 {
		t.Fatalf("good change: err %v, version %s (was %s)", err, set.Version(), v1)
	}
	v2 := set.Version()
	mark := sentCount()
	b.Eventually("a few messages under v2", func() bool { return sentCount() >= mark+5 })

	write("version: 1\nrules:\n  - name: answer\n    on: message.recieved\n    do: [reply]\n")
	if _, err := b.Reloader.Reload(); err == nil || !strings.Contains(err.Error(), "rules.yaml:4:9") {
		t.Fatalf("broken change: err = %v, want the position of the bad kind", err)
	}
	if got := b.Reloader.Current().Version(); got != v2 || b.Reloader.Failures() != 1 {
		t.Fatalf("after a broken change: version %s (want %s), failures %d", got, v2, b.Reloader.Failures())
	}
	mark = sentCount()
	b.Eventually("a few messages after the broken change", func() bool { return sentCount() >= mark+5 })
	close(stop)
	<-done
	c.Wait()

	mu.Lock()
	defer mu.Unlock()
	replies := c.Replies()
	answered := map[string][]string{}
	for _, r := range replies {
		version, text, _ := strings.Cut(r, " ")
		answered[text] = append(answered[text], version)
	}
	sawV2 := false
	for _, m := range sent {
		vs := answered[m]
		if len(vs) != 1 {
			t.Fatalf("%s answered %d times (%v); replies: %q", m, len(vs), vs, replies)
		}
		switch {
		case vs[0] == "v2:":
			sawV2 = true
		case vs[0] == "v1:" && sawV2:
			t.Fatalf("%s answered by v1 after v2 took over; replies: %q", m, replies)
		}
	}
	if last := answered[sent[len(sent)-1]]; !sawV2 || last[0] != "v2:" {
		t.Fatalf("the broken change did not leave v2 answering; replies: %q", replies)
	}
}
