package rules_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ucwabot/ucwabot/rules"
)

// writeRules writes content to name under dir, creating directories, and
// returns the path.
func writeRules(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadOK loads paths and fails the test on an error.
func loadOK(t *testing.T, opts rules.Options, paths ...string) *rules.Set {
	t.Helper()
	s, err := rules.Load(opts, paths...)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// loadText writes src to rules.yaml in a fresh directory and loads it.
func loadText(t *testing.T, opts rules.Options, src string) *rules.Set {
	t.Helper()
	return loadOK(t, opts, writeRules(t, t.TempDir(), "rules.yaml", src))
}

// loadFail loads paths, which must fail, and returns the problems.
func loadFail(t *testing.T, opts rules.Options, paths ...string) rules.Errors {
	t.Helper()
	s, err := rules.Load(opts, paths...)
	if err == nil {
		_ = s.Close()
		t.Fatalf("Load succeeded; want errors")
	}
	var es rules.Errors
	if !errors.As(err, &es) {
		t.Fatalf("Load error is %T, want rules.Errors: %v", err, err)
	}
	if len(es) == 0 {
		t.Fatal("Load returned empty Errors")
	}
	return es
}

// textFail writes src to rules.yaml in a fresh directory, loads it (which
// must fail) and returns the problems and the file's path.
func textFail(t *testing.T, opts rules.Options, src string) (rules.Errors, string) {
	t.Helper()
	p := writeRules(t, t.TempDir(), "rules.yaml", src)
	return loadFail(t, opts, p), p
}

// hasErr asserts that es holds a problem whose text is exactly want.
func hasErr(t *testing.T, es rules.Errors, want string) {
	t.Helper()
	for _, e := range es {
		if e.Error() == want {
			return
		}
	}
	t.Errorf("no error\n  %s\namong\n%s", want, indentLines(es.Error()))
}

// hasErrLike asserts that es holds a problem starting with prefix and
// containing every one of parts, and returns it.
func hasErrLike(t *testing.T, es rules.Errors, prefix string, parts ...string) *rules.Error {
	t.Helper()
outer:
	for _, e := range es {
		s := e.Error()
		if !strings.HasPrefix(s, prefix) {
			continue
		}
		for _, p := range parts {
			if !strings.Contains(s, p) {
				continue outer
			}
		}
		return e
	}
	t.Errorf("no error starting with\n  %s\ncontaining %q among\n%s", prefix, parts, indentLines(es.Error()))
	return nil
}

func indentLines(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }

// cleanupInst is a handler cleanupInst that counts its Cleanup calls.
type cleanupInst struct {
	plugin  string
	params  any
	cleaned atomic.Int32
}

func (i *cleanupInst) Cleanup() error {
	i.cleaned.Add(1)
	return nil
}

// replyArgs, setParams and leave are the parameters the test strictBuilder
// knows; unknown keys are errors.
type replyArgs struct {
	Text string `yaml:"text"`
}

// strictBuilder is a strict Builder that records every cleanupInst it builds.
type strictBuilder struct {
	mu        sync.Mutex
	instances []*cleanupInst
}

func (b *strictBuilder) Build(plugin string, params *yaml.Node) (any, error) {
	var v any
	switch plugin {
	case "reply":
		var p replyArgs
		if err := strictDecode(params, &p); err != nil {
			return nil, err
		}
		if p.Text == "" {
			return nil, errors.New("text is required")
		}
		v = p
	case "set":
		var p map[string]any
		if err := strictDecode(params, &p); err != nil {
			return nil, err
		}
		v = p
	case "leave", "log":
		if params != nil {
			return nil, fmt.Errorf("%s takes no parameters", plugin)
		}
	default:
		return nil, fmt.Errorf("unknown plugin %q (known: leave, log, reply, set)", plugin)
	}
	inst := &cleanupInst{plugin: plugin, params: v}
	b.mu.Lock()
	b.instances = append(b.instances, inst)
	b.mu.Unlock()
	return inst, nil
}

func (b *strictBuilder) all() []*cleanupInst {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*cleanupInst(nil), b.instances...)
}

// strictDecode decodes params into v through a yaml.Decoder with
// KnownFields, since yaml.Node.Decode does not honour it.
func strictDecode(params *yaml.Node, v any) error {
	if params == nil {
		return nil
	}
	data, err := yaml.Marshal(params)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		// The re-encoded document's lines are not the file's.
		msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  ")
		if i := strings.Index(msg, ": "); strings.HasPrefix(msg, "line ") && i > 0 {
			msg = msg[i+2:]
		}
		return errors.New(msg)
	}
	return nil
}
