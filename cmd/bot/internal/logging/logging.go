// Package logging sets up the service's logrus logger: JSON or text lines
// at a level, with every known secret (passwords, tokens) blanked out of
// each line whatever field or message it reached.
package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/sirupsen/logrus"
)

// Redacted replaces a secret in log output.
const Redacted = "[REDACTED]"

// New returns a logger writing to w in format ("json" or "text") at level
// ("trace", "debug", "info", "warn", "error"). Secrets added to the
// returned Redactor never appear in its output.
func New(w io.Writer, format, level string) (*logrus.Logger, *Redactor, error) {
	lvl, err := logrus.ParseLevel(level)
	if err != nil {
		return nil, nil, fmt.Errorf("log level: %w", err)
	}
	var inner logrus.Formatter
	switch format {
	case "json":
		inner = &logrus.JSONFormatter{}
	case "text":
		inner = &logrus.TextFormatter{DisableColors: true, FullTimestamp: true}
	default:
		return nil, nil, fmt.Errorf("log format %q is not json or text", format)
	}
	r := &Redactor{inner: inner}
	l := logrus.New()
	l.SetOutput(w)
	l.SetLevel(lvl)
	l.SetFormatter(r)
	return l, r, nil
}

// Redactor is a logrus.Formatter that formats with an inner formatter and
// then blanks every registered secret out of the line, in its raw form and
// in its JSON- and Go-quoted forms. It is safe for concurrent use.
type Redactor struct {
	inner logrus.Formatter
	mu    sync.RWMutex
	forms [][]byte
}

var _ logrus.Formatter = (*Redactor)(nil)

// Add registers secrets to blank out. Empty strings are ignored.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if s == "" || slices.ContainsFunc(r.forms, func(f []byte) bool { return string(f) == s }) {
			continue // a secret registered again (a token seen twice) is kept once
		}
		r.forms = append(r.forms, []byte(s))
		if j, err := json.Marshal(s); err == nil {
			if q := j[1 : len(j)-1]; !bytes.Equal(q, []byte(s)) {
				r.forms = append(r.forms, q)
			}
		}
		if q := fmt.Sprintf("%q", s); q[1:len(q)-1] != s {
			r.forms = append(r.forms, []byte(q[1:len(q)-1]))
		}
	}
}

// Format formats the entry and blanks the secrets.
func (r *Redactor) Format(e *logrus.Entry) ([]byte, error) {
	b, err := r.inner.Format(e)
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, f := range r.forms {
		if bytes.Contains(b, f) {
			b = bytes.ReplaceAll(b, f, []byte(Redacted))
		}
	}
	return b, nil
}
