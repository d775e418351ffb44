package faq

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// File is an FAQ file:
//
//	faq:
//	  - questions: ["How do I reset my password?"]
//	    patterns: ['reset.*password', 'forgot.*password']
//	    answer: Go to https://passwordreset.contoso.com and follow the steps.
//	  - patterns: ['\bvpn\b']
//	    html: <a href="https://wiki.contoso.com/vpn">The VPN guide</a>
//
// An entry matches a message whose text, lower-cased with punctuation and
// extra spaces removed, equals one of its questions treated the same way,
// or that one of its patterns (Go regular expressions, case-insensitive)
// matches. The first matching entry answers.
type File struct {
	// Entries in the order they are tried.
	Entries []Entry `yaml:"faq"`
}

// Entry is one question and its answer.
type Entry struct {
	// Questions are matched exactly, up to case, punctuation and spacing.
	Questions []string `yaml:"questions"`
	// Patterns are regular expressions matched case-insensitively.
	Patterns []string `yaml:"patterns"`
	// Answer is sent as plain text.
	Answer string `yaml:"answer"`
	// HTML is sent as text/html instead of Answer.
	HTML string `yaml:"html"`

	line     int
	res      []*regexp.Regexp
	normQs   []string
	location string
}

// Location returns file:line of the entry.
func (e *Entry) Location() string { return e.location }

// ErrNoEntries is returned by Load for a file without entries.
var ErrNoEntries = errors.New("faq: no entries")

// Load reads and checks an FAQ file: unknown keys, an entry without an
// answer or without a question or pattern, and a pattern that does not
// compile are errors naming file:line; every error is reported at once.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("faq: %w", err)
	}
	return Parse(path, data)
}

// Parse checks an FAQ file's content; name is used in errors.
func Parse(name string, data []byte) (*File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %w", name, ErrNoEntries)
		}
		return nil, fmt.Errorf("faq: %s: %w", name, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("faq: %s: %w", name, err)
	}
	lines := entryLines(&root)
	if len(f.Entries) == 0 {
		return nil, fmt.Errorf("%s: %w", name, ErrNoEntries)
	}
	var errs []error
	for i := range f.Entries {
		e := &f.Entries[i]
		if i < len(lines) {
			e.line = lines[i]
		}
		e.location = fmt.Sprintf("%s:%d", name, e.line)
		if err := e.compile(); err != nil {
			errs = append(errs, fmt.Errorf("faq: %s: entry %d: %w", e.location, i+1, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &f, nil
}

// entryLines returns the line of each item of the top-level faq list.
func entryLines(root *yaml.Node) []int {
	if len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "faq" {
			var out []int
			for _, item := range m.Content[i+1].Content {
				out = append(out, item.Line)
			}
			return out
		}
	}
	return nil
}

func (e *Entry) compile() error {
	switch {
	case e.Answer == "" && e.HTML == "":
		return errors.New(`"answer" or "html" is required`)
	case e.Answer != "" && e.HTML != "":
		return errors.New(`give "answer" or "html", not both`)
	case len(e.Questions) == 0 && len(e.Patterns) == 0:
		return errors.New(`"questions" or "patterns" is required`)
	}
	for _, q := range e.Questions {
		n := normalize(q)
		if n == "" {
			return fmt.Errorf("question %q has no words", q)
		}
		e.normQs = append(e.normQs, n)
	}
	for _, p := range e.Patterns {
		re, err := regexp.Compile("(?i)" + p)
		if err != nil {
			return fmt.Errorf("pattern %q: %w", p, err)
		}
		e.res = append(e.res, re)
	}
	return nil
}

// Match returns the first entry that answers text.
func (f *File) Match(text string) (*Entry, bool) {
	norm := normalize(text)
	for i := range f.Entries {
		e := &f.Entries[i]
		for _, q := range e.normQs {
			if q == norm {
				return e, true
			}
		}
		for _, re := range e.res {
			if re.MatchString(text) {
				return e, true
			}
		}
	}
	return nil, false
}

// normalize lower-cases s, drops punctuation and collapses spaces.
func normalize(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		case unicode.IsSpace(r):
			space = true
		}
	}
	return b.String()
}
