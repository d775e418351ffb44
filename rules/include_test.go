package rules_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/rules"
)

func ruleNames(s *rules.Set) []string {
	var out []string
	for _, r := range s.Rules() {
		out = append(out, r.Name)
	}
	return out
}

// A directory loads its *.yaml and *.yml files, sorted, skipping rule
// test cases; includes are relative to the including file and a file
// included twice is loaded once.
func TestLoadDirectoryAndIncludes(t *testing.T) {
	s := loadOK(t, rules.Options{}, "testdata/dir")
	// An include is loaded where its key stands, before the rules below it.
	if got := ruleNames(s); !slices.Equal(got, []string{"extra", "base", "more"}) {
		t.Errorf("rules %v", got)
	}
	want := []string{"testdata/dir/10-base.yaml", "testdata/dir/sub/extra.yaml", "testdata/dir/20-more.yml"}
	if got := s.Files(); !slices.Equal(got, want) {
		t.Errorf("Files = %v, want %v", got, want)
	}
	// The included file named again on the command line is still loaded once.
	s2 := loadOK(t, rules.Options{}, "testdata/dir", "testdata/dir/sub/extra.yaml")
	if got := ruleNames(s2); !slices.Equal(got, []string{"extra", "base", "more"}) {
		t.Errorf("rules %v", got)
	}
}

func TestIncludeRelativeToIncludingFile(t *testing.T) {
	dir := t.TempDir()
	writeRules(t, dir, "conf/main.yaml", `include: ["parts/*.yaml", "parts/b.yaml"]
rules:
  - {name: main, on: typing, do: [leave]}
`)
	writeRules(t, dir, "conf/parts/a.yaml", `include: [../shared.yaml]
rules:
  - {name: a, on: typing, do: [leave]}
`)
	writeRules(t, dir, "conf/parts/b.yaml", `rules:
  - {name: b, on: typing, do: [leave]}
`)
	writeRules(t, dir, "conf/shared.yaml", `include: [parts/b.yaml]
rules:
  - {name: shared, on: typing, do: [leave]}
`)
	// Loaded from another working directory's point of view: the paths
	// are absolute, the includes relative to each file.
	s := loadOK(t, rules.Options{}, filepath.Join(dir, "conf/main.yaml"))
	if got := ruleNames(s); !slices.Equal(got, []string{"b", "shared", "a", "main"}) {
		t.Errorf("rules %v", got)
	}
	if n := len(s.Files()); n != 4 {
		t.Errorf("Files = %v", s.Files())
	}
}

func TestReloaderKeepsRunningSetOnError(t *testing.T) {
	b := &strictBuilder{}
	dir := t.TempDir()
	p := writeRules(t, dir, "rules.yaml", "rules:\n  - {name: a, on: typing, do: [log]}\n")
	r, err := rules.NewReloader(rules.Options{Build: b.Build}, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	r.CloseDelay = 10 * time.Millisecond
	first := r.Current()
	v1 := first.Version()

	// Unchanged files keep the running Set.
	if s, err := r.Reload(); err != nil || s != first || r.Reloads() != 0 {
		t.Fatalf("unchanged reload: %v, %v, reloads %d", s == first, err, r.Reloads())
	}

	writeRules(t, dir, "rules.yaml", "rules:\n  - {name: a, on: typing, do: [log]}\n  - {name: b, on: typo, do: [log]}\n")
	s, err := r.Reload()
	if err == nil || s != first || r.Current() != first || r.Current().Version() != v1 {
		t.Fatalf("broken reload replaced the set: err %v", err)
	}
	if r.Failures() != 1 || r.LastError() == nil || !strings.Contains(r.LastError().Error(), `rule "b": on: unknown event kind "typo"`) {
		t.Errorf("Failures %d, LastError %v", r.Failures(), r.LastError())
	}

	writeRules(t, dir, "rules.yaml", "rules:\n  - {name: a, on: typing, do: [log]}\n  - {name: b, on: typing, do: [log]}\n")
	var swapped [2]*rules.Set
	r.OnSwap(func(old, cur *rules.Set) { swapped = [2]*rules.Set{old, cur} })
	s, err = r.Reload()
	if err != nil || s == first || r.Current() != s || s.Version() == v1 || r.Reloads() != 1 || r.LastError() != nil {
		t.Fatalf("fixed reload: err %v, reloads %d", err, r.Reloads())
	}
	if swapped[0] != first || swapped[1] != s {
		t.Error("OnSwap not called with the old and new sets")
	}
	if ms, _ := s.Eval(context.Background(), &rules.Input{Event: msgKind("typing")}, nil); len(ms) != 2 {
		t.Errorf("new set fired %v", fired(ms))
	}
	// The replaced set's instance is cleaned up after CloseDelay; the
	// new ones are not.
	old := first.Rules()[0].Do[0].Instance.(*cleanupInst)
	deadline := time.Now().Add(5 * time.Second)
	for old.cleaned.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if old.cleaned.Load() != 1 {
		t.Errorf("replaced set cleaned up %d times", old.cleaned.Load())
	}
	for _, rl := range s.Rules() {
		if rl.Do[0].Instance.(*cleanupInst).cleaned.Load() != 0 {
			t.Error("running set cleaned up")
		}
	}
	// The failed load and the unchanged reload cleaned up what they built:
	// every instance but the running set's two was cleaned up once.
	clean := 0
	for _, in := range b.all() {
		clean += int(in.cleaned.Load())
	}
	if total := len(b.all()); clean != total-2 {
		t.Errorf("%d of %d instances cleaned up, want %d", clean, total, total-2)
	}
}

func TestNewReloaderFails(t *testing.T) {
	p := writeRules(t, t.TempDir(), "rules.yaml", "rules: 3\n")
	if r, err := rules.NewReloader(rules.Options{}, nil, p); err == nil || r != nil {
		t.Fatalf("NewReloader = %v, %v", r, err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReloaderWatch(t *testing.T) {
	dir := t.TempDir()
	p := writeRules(t, dir, "rules.yaml", "rules:\n  - {name: a, on: typing, do: [leave]}\n")
	r, err := rules.NewReloader(rules.Options{}, nil, dir)
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
	has := func(name string) func() bool {
		return func() bool { return slices.Contains(ruleNames(r.Current()), name) }
	}
	// The watcher may not be set up yet when the first write happens, so
	// the write is repeated until it is seen.
	v1 := r.Current().Version()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; !has("b")(); i++ {
		if time.Now().After(deadline) {
			t.Fatal("a write was not picked up")
		}
		writeRules(t, dir, "rules.yaml", "rules:\n  - {name: a, on: typing, do: [leave]}\n  - {name: b, on: typing, do: [leave]}\n"+strings.Repeat("#\n", i))
		time.Sleep(50 * time.Millisecond)
	}
	if r.Current().Version() == v1 {
		t.Error("version unchanged")
	}
	// An editor's atomic replace: write a temporary file, rename it over.
	tmp := filepath.Join(dir, ".rules.yaml.tmp")
	if err := os.WriteFile(tmp, []byte("rules:\n  - {name: c, on: typing, do: [leave]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the renamed file", has("c"))
	// A broken write keeps the running set and counts the failure.
	cur := r.Current()
	writeRules(t, dir, "rules.yaml", "rules:\n  - {name: d, on: nope, do: [leave]}\n")
	waitFor(t, "the failed reload", func() bool { return r.Failures() > 0 })
	if r.Current() != cur {
		t.Error("a broken file replaced the set")
	}
	// A new file in the directory is picked up.
	writeRules(t, dir, "rules.yaml", "rules:\n  - {name: c, on: typing, do: [leave]}\n")
	writeRules(t, dir, "more.yml", "rules:\n  - {name: e, on: typing, do: [leave]}\n")
	waitFor(t, "the new file", has("e"))
}

// An include cycle is one error at the include that closes it, naming
// every file of the cycle, rather than a silent skip or an error inside
// the included file.
func TestIncludeCycleIsAnErrorNamingBothFiles(t *testing.T) {
	dir := t.TempDir()
	writeRules(t, dir, "a.yaml", `include: [b.yaml]
rules:
  - {name: a, on: typing, do: [leave]}
`)
	writeRules(t, dir, "b.yaml", `rules:
  - {name: b, on: typing, do: [leave]}
include:
  - a.yaml
`)
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	_, err := rules.Load(rules.Options{}, a)
	want := b + ":4:5: include: include cycle: " + a + " includes " + b + ", which includes " + a
	if err == nil || err.Error() != want {
		t.Fatalf("Load error:\n%v\nwant:\n%s", err, want)
	}
	// A file included twice without a cycle is read once, silently.
	writeRules(t, dir, "c.yaml", `include: [b2.yaml, d.yaml]
rules: [{name: c, on: typing, do: [leave]}]
`)
	writeRules(t, dir, "d.yaml", `include: [b2.yaml]
rules: [{name: d, on: typing, do: [leave]}]
`)
	writeRules(t, dir, "b2.yaml", `rules: [{name: b2, on: typing, do: [leave]}]
`)
	s := loadOK(t, rules.Options{}, filepath.Join(dir, "c.yaml"))
	if got := ruleNames(s); !slices.Equal(got, []string{"b2", "d", "c"}) {
		t.Errorf("rules %v", got)
	}
}
