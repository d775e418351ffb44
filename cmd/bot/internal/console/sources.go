package console

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/ops"
	"github.com/ucwabot/ucwabot/rules"
)

// RuleSetInfo lists a rule set with its counters, as the admin API shows
// it.
func RuleSetInfo(set *rules.Set) ops.RuleSet {
	out := ops.RuleSet{Version: set.Version()}
	stats := map[string]rules.RuleStats{}
	for _, s := range set.Stats() {
		stats[s.Name] = s
	}
	for _, r := range set.Rules() {
		info := ops.RuleInfo{Name: r.Name, File: r.File, Line: r.Line}
		for _, k := range r.On {
			info.On = append(info.On, string(k))
		}
		for _, s := range r.Do {
			info.Handlers = append(info.Handlers, s.Plugin)
		}
		if s, ok := stats[r.Name]; ok {
			info.Matches, info.Errors = s.Matches, s.Errors
			info.Runs, info.RunSeconds = s.Runs, s.RunTime.Seconds()
		}
		out.Rules = append(out.Rules, info)
	}
	return out
}

// retireDelay is how long a replaced rule set stays open for the events
// still using it.
const retireDelay = time.Minute

// MemoryRules is one rules file held in memory (`bot demo --web`): the
// engine's rule source, and the console's Rules, whose Apply puts an
// edited file in force at once.
type MemoryRules struct {
	opts rules.Options

	mu   sync.Mutex
	name string
	text []byte
	set  *rules.Set
}

var _ Rules = (*MemoryRules)(nil)

// NewMemoryRules loads text as the file name.
func NewMemoryRules(opts rules.Options, name string, text []byte) (*MemoryRules, error) {
	set, err := rules.LoadBytes(opts, name, text)
	if err != nil {
		return nil, err
	}
	return &MemoryRules{opts: opts, name: name, text: text, set: set}, nil
}

// Current is the set in force.
func (m *MemoryRules) Current() *rules.Set {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.set
}

// Close closes the set in force.
func (m *MemoryRules) Close() error { return m.Current().Close() }

// Info is the set in force with its counters.
func (m *MemoryRules) Info() ops.RuleSet { return RuleSetInfo(m.Current()) }

// LastError is nil: a file that does not load is never applied.
func (m *MemoryRules) LastError() error { return nil }

// Files names the one file.
func (m *MemoryRules) Files() []string { return []string{m.name} }

// Read returns the file's text in force.
func (m *MemoryRules) Read(string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.text, nil
}

// Check loads text with the same options.
func (m *MemoryRules) Check(name string, text []byte) (int, error) { return check(m.opts, name, text) }

// CanApply is "": the demo runs against the simulator.
func (m *MemoryRules) CanApply() string { return "" }

// Apply loads text and puts it in force.
func (m *MemoryRules) Apply(_ context.Context, name string, text []byte) error {
	set, err := rules.LoadBytes(m.opts, name, text)
	if err != nil {
		return err
	}
	m.mu.Lock()
	old := m.set
	m.set, m.text = set, append([]byte(nil), text...)
	m.mu.Unlock()
	time.AfterFunc(retireDelay, func() { _ = old.Close() })
	return nil
}

func check(opts rules.Options, name string, text []byte) (int, error) {
	set, err := rules.LoadBytes(opts, name, text)
	if err != nil {
		return 0, err
	}
	defer set.Close()
	return len(set.Rules()), nil
}

// Reloader is what FileRules needs of *rules.Reloader.
type Reloader interface {
	Current() *rules.Set
	Reload() (*rules.Set, error)
	LastError() error
	Reloads() uint64
	Failures() uint64
}

// FileRules is the rules files of `bot run`. Apply writes the edited file
// and reloads; it is allowed only when ApplyWhy is empty.
type FileRules struct {
	Opts     rules.Options
	Reloader Reloader
	// NoApply says why Apply is refused ("" allows it: shadow mode, or
	// every account on the simulator).
	NoApply string
}

var _ Rules = (*FileRules)(nil)

// Info is the set in force with the reloader's counters and last error.
func (f *FileRules) Info() ops.RuleSet {
	out := RuleSetInfo(f.Reloader.Current())
	out.Reloads, out.ReloadFailures = f.Reloader.Reloads(), f.Reloader.Failures()
	if err := f.Reloader.LastError(); err != nil {
		out.LastReloadError = err.Error()
	}
	return out
}

// LastError is the last reload's error.
func (f *FileRules) LastError() error { return f.Reloader.LastError() }

// Files are the files of the set in force.
func (f *FileRules) Files() []string { return f.Reloader.Current().Files() }

// Read reads one of the files.
func (f *FileRules) Read(name string) ([]byte, error) { return os.ReadFile(name) }

// Check loads text as name with the service's options.
func (f *FileRules) Check(name string, text []byte) (int, error) { return check(f.Opts, name, text) }

// CanApply says why Apply is refused.
func (f *FileRules) CanApply() string { return f.NoApply }

// Apply writes text to the file (through a temporary file renamed over
// it) and reloads the rules.
func (f *FileRules) Apply(_ context.Context, name string, text []byte) error {
	if f.NoApply != "" {
		return fmt.Errorf("apply refused: %s", f.NoApply)
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".console-*.yaml.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(text); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if fi, err := os.Stat(name); err == nil {
		_ = os.Chmod(tmp.Name(), fi.Mode().Perm())
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return err
	}
	_, err = f.Reloader.Reload()
	return err
}
