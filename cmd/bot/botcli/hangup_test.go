package botcli

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/rules"
)

// SIGHUP reloads the rules: a good change takes over, a broken one leaves
// the running rules and is counted.
func TestSIGHUP_reloads_the_rules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("rules:\n  - name: one\n    on: typing\n    do: [log]\n")
	r, err := rules.NewReloader(rules.Options{}, nil, path)
	if err != nil {
		t.Fatal(err)
	}
	// A handler of the test's own keeps SIGHUP from ending the test binary
	// until reloadOnHangup has registered.
	own := make(chan os.Signal, 8)
	signal.Notify(own, syscall.SIGHUP)
	defer signal.Stop(own)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetLevel(logrus.WarnLevel)
	go reloadOnHangup(ctx, r, log)

	hangUpUntil := func(what string, done func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !done() {
			if time.Now().After(deadline) {
				t.Fatalf("no %s after SIGHUP", what)
			}
			if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	first := r.Current().Version()
	write("rules:\n  - name: one\n    on: typing\n    do: [log]\n  - name: two\n    on: typing\n    do: [leave]\n")
	hangUpUntil("reload", func() bool { return len(r.Current().Rules()) == 2 })
	if r.Current().Version() == first {
		t.Fatal("the version did not change")
	}
	write("rules:\n  - name: broken\n    on: typo\n    do: [log]\n")
	hangUpUntil("failed reload", func() bool { return r.Failures() > 0 })
	if n := len(r.Current().Rules()); n != 2 || r.LastError() == nil {
		t.Fatalf("after a broken change: %d rules, last error %v", n, r.LastError())
	}
}
