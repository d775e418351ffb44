package rules_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/plugins"
	"github.com/ucwabot/ucwabot/rules"
)

const faqRules = `rules:
  - name: faq
    on: message.received
    do:
      - faq: {file: %q}
`

// A reload picks up every file the loaded set depends on: the version
// covers the FAQ file a plugin reads and the value of a secret_env
// variable, so editing either and reloading replaces the running set.
func TestReload_picks_up_a_changed_faq_file_and_secret_env(t *testing.T) {
	dir := t.TempDir()
	faq := writeRules(t, dir, "data/faq.yaml", "faq:\n  - questions: [\"is the vpn down\"]\n    answer: The VPN is down.\n")
	t.Setenv("UCWABOT_TEST_DEPS_SECRET", "first-secret")
	writeRules(t, dir, "rules/main.yaml", fmt.Sprintf(faqRules, faq)+`  - name: hook
    on: conversation.ended
    do:
      - webhook: {url: "http://127.0.0.1:1/hook", secret_env: UCWABOT_TEST_DEPS_SECRET}
`)
	r, err := rules.NewReloader(rules.Options{Build: plugins.Default.Build}, nil, filepath.Join(dir, "rules"))
	if err != nil {
		t.Fatal(err)
	}
	r.CloseDelay = time.Millisecond
	v1 := r.Current()
	if deps := v1.Dependencies(); len(deps) != 1 || deps[0] != faq {
		t.Errorf("Dependencies = %v, want [%s]", deps, faq)
	}
	// Unchanged: the running set stays.
	if s, err := r.Reload(); err != nil || s != v1 {
		t.Fatalf("reload of unchanged files: %v, %v", s == v1, err)
	}
	writeRules(t, dir, "data/faq.yaml", "faq:\n  - questions: [\"is the vpn down\"]\n    answer: The VPN is back.\n")
	v2, err := r.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if v2 == v1 || v2.Version() == v1.Version() || r.Reloads() != 1 {
		t.Fatalf("after the FAQ changed: version %s → %s, reloads %d; want a new set", v1.Version(), v2.Version(), r.Reloads())
	}
	t.Setenv("UCWABOT_TEST_DEPS_SECRET", "second-secret")
	v3, err := r.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if v3.Version() == v2.Version() {
		t.Fatal("after the secret_env value changed: same version")
	}
	// The same files and values give the same version, on any host.
	t.Setenv("UCWABOT_TEST_DEPS_SECRET", "first-secret")
	writeRules(t, dir, "data/faq.yaml", "faq:\n  - questions: [\"is the vpn down\"]\n    answer: The VPN is down.\n")
	v4, err := r.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if v4.Version() != v1.Version() {
		t.Errorf("back to the first files and secret: version %s, want %s", v4.Version(), v1.Version())
	}
}

// Watch watches the directories of the files the set depends on: an FAQ
// file outside the rules directory that changes is reloaded.
func TestReloaderWatch_reloads_when_the_faq_file_changes(t *testing.T) {
	dir := t.TempDir()
	faq := writeRules(t, dir, "data/faq.yaml", "faq:\n  - questions: [\"is the vpn down\"]\n    answer: The VPN is down.\n")
	writeRules(t, dir, "rules/main.yaml", fmt.Sprintf(faqRules, faq))
	r, err := rules.NewReloader(rules.Options{Build: plugins.Default.Build}, nil, filepath.Join(dir, "rules"))
	if err != nil {
		t.Fatal(err)
	}
	r.CloseDelay = time.Millisecond
	r.Debounce = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Watch(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}()
	// The watcher may not be set up yet when the first write happens, so
	// the write is repeated until it is seen.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; r.Reloads() == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("the FAQ file's change was not picked up")
		}
		writeRules(t, dir, "data/faq.yaml", fmt.Sprintf("faq:\n  - questions: [\"is the vpn down\"]\n    answer: The VPN is back (%d).\n", i))
		time.Sleep(50 * time.Millisecond)
	}
}
