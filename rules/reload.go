package rules

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/sirupsen/logrus"
)

// Reloader holds the running Set and replaces it atomically when the files
// change: a reload that fails keeps the running Set, logs every error and
// counts the failure.
type Reloader struct {
	opts  Options
	paths []string
	log   logrus.FieldLogger

	// CloseDelay is how long a replaced Set stays open for the events still
	// using it before its handlers are cleaned up (5 minutes unless set; it
	// should exceed the longest an event's handlers can run). Set it before
	// the first Reload.
	CloseDelay time.Duration
	// Debounce is how long Watch waits for writes to settle before it
	// reloads (250ms when 0).
	Debounce time.Duration

	mu       sync.Mutex // one reload at a time
	cur      atomic.Pointer[Set]
	failures atomic.Uint64
	reloads  atomic.Uint64
	lastErr  atomic.Pointer[error]
	onSwap   func(old, cur *Set)
}

// NewReloader loads the files at paths; it fails when they do not load.
func NewReloader(opts Options, log logrus.FieldLogger, paths ...string) (*Reloader, error) {
	set, err := Load(opts, paths...)
	if err != nil {
		return nil, err
	}
	if log == nil {
		l := logrus.New()
		l.Out = discard{}
		log = l
	}
	r := &Reloader{opts: opts, paths: paths, log: log, CloseDelay: 5 * time.Minute}
	r.cur.Store(set)
	log.WithFields(logrus.Fields{"version": set.Version(), "rules": len(set.Rules())}).Info("rules loaded")
	return r, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Current returns the running Set.
func (r *Reloader) Current() *Set { return r.cur.Load() }

// Failures counts the reloads that failed since the Reloader was made.
func (r *Reloader) Failures() uint64 { return r.failures.Load() }

// Reloads counts the reloads that replaced the running Set.
func (r *Reloader) Reloads() uint64 { return r.reloads.Load() }

// LastError is the error of the last reload, nil when it succeeded.
func (r *Reloader) LastError() error {
	if p := r.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// OnSwap registers f to be called after each successful reload, with the
// replaced and the new Set. Call it before Watch.
func (r *Reloader) OnSwap(f func(old, cur *Set)) { r.onSwap = f }

// Reload loads the files again. On success the new Set replaces the running
// one, which is closed after CloseDelay; on failure the running Set stays
// and the error lists every problem. A reload of unchanged files keeps the
// running Set.
func (r *Reloader) Reload() (*Set, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.cur.Load()
	set, err := Load(r.opts, r.paths...)
	if err != nil {
		r.failures.Add(1)
		r.lastErr.Store(&err)
		var es Errors
		if errors.As(err, &es) {
			for _, e := range es {
				r.log.WithField("error", e.Error()).Error("rules reload failed; the running rules stay")
			}
		} else {
			r.log.WithError(err).Error("rules reload failed; the running rules stay")
		}
		r.log.WithFields(logrus.Fields{"version": old.Version(), "errors": len(es)}).Warn("rules not reloaded")
		return old, err
	}
	r.lastErr.Store(nil)
	if set.Version() == old.Version() {
		_ = set.Close()
		return old, nil
	}
	r.cur.Store(set)
	r.reloads.Add(1)
	r.log.WithFields(logrus.Fields{"version": set.Version(), "previous": old.Version(), "rules": len(set.Rules())}).Info("rules reloaded")
	if r.onSwap != nil {
		r.onSwap(old, set)
	}
	time.AfterFunc(r.CloseDelay, func() {
		if err := old.Close(); err != nil {
			r.log.WithError(err).Warn("cleaning up the replaced rules")
		}
	})
	return set, nil
}

// Watch reloads when a rules file, a YAML file in a directory of rules, or
// a file the handlers read (Set.Dependencies) is written, created, renamed
// or removed, after the writes settle for
// Debounce. It returns when ctx ends. Editors that replace files by
// renaming are handled by watching directories.
func (r *Reloader) Watch(ctx context.Context) error {
	debounce := r.Debounce
	if debounce <= 0 {
		debounce = 250 * time.Millisecond
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	watched := map[string]bool{}
	watch := func() {
		for _, d := range r.dirs() {
			if !watched[d] {
				if err := w.Add(d); err != nil {
					r.log.WithError(err).WithField("dir", d).Warn("cannot watch rules directory")
					continue
				}
				watched[d] = true
			}
		}
	}
	watch()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if !isRulesFile(filepath.Base(ev.Name)) && !r.isRulesPath(ev.Name) {
				continue
			}
			timer.Reset(debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.log.WithError(err).Warn("watching rules files")
		case <-timer.C:
			_, _ = r.Reload()
			watch() // includes may name new directories
		}
	}
}

// dirs are the directories holding the rules files and the paths given.
func (r *Reloader) dirs() []string {
	seen := map[string]bool{}
	var out []string
	add := func(d string) {
		if abs, err := filepath.Abs(d); err == nil {
			d = abs
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, p := range r.paths {
		if isDir(p) {
			add(p)
		} else {
			add(filepath.Dir(p))
		}
	}
	for _, f := range r.Current().Files() {
		add(filepath.Dir(f))
	}
	for _, f := range r.Current().Dependencies() {
		add(filepath.Dir(f))
	}
	return out
}

func (r *Reloader) isRulesPath(name string) bool {
	abs, _ := filepath.Abs(name)
	cur := r.Current()
	for _, f := range append(cur.Files()[:len(cur.Files()):len(cur.Files())], cur.Dependencies()...) {
		if fa, _ := filepath.Abs(f); fa == abs {
			return true
		}
	}
	return false
}
