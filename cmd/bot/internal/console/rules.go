package console

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/ops"
	"github.com/ucwabot/ucwabot/rules"
)

// Rules is the rule set as the console sees it. Methods may be called
// concurrently.
type Rules interface {
	// Info is the set in force with its counters and last reload error.
	Info() ops.RuleSet
	// LastError is the last reload's error (a rules.Errors when the files
	// did not load), nil when it succeeded.
	LastError() error
	// Files names the files of the set in force.
	Files() []string
	// Read returns the text of one of Files.
	Read(name string) ([]byte, error)
	// Check loads text as the file name with the service's loader and
	// returns the set's rule count, or every problem (rules.Errors).
	Check(name string, text []byte) (int, error)
	// CanApply says why an edited file cannot be applied, "" when it can
	// (against the simulator, or in shadow mode).
	CanApply() string
	// Apply replaces the file name by text and puts the rules in force;
	// on error the running rules stay.
	Apply(ctx context.Context, name string, text []byte) error
}

// ProblemView is one load error with its position and the line it points
// at.
type ProblemView struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// Snippet is the line the problem is at with a caret under its
	// column, when the text is known.
	Snippet string `json:"snippet,omitempty"`
	Text    string `json:"text"` // the whole error as `bot rules check` prints it
}

// problems lists err's positioned problems; texts gives a file's text for
// the snippets (nil: none).
func problems(err error, texts func(file string) []byte) []ProblemView {
	var es rules.Errors
	if !errors.As(err, &es) {
		var e *rules.Error
		if errors.As(err, &e) {
			es = rules.Errors{e}
		}
	}
	if len(es) == 0 {
		return []ProblemView{{Message: err.Error(), Text: err.Error()}}
	}
	out := make([]ProblemView, 0, len(es))
	for _, e := range es {
		p := ProblemView{File: e.File, Line: e.Line, Col: e.Col, Rule: e.Rule, Field: e.Field, Message: e.Msg, Text: e.Error()}
		if texts != nil && e.Line > 0 {
			p.Snippet = snippet(texts(e.File), e.Line, e.Col)
		}
		out = append(out, p)
	}
	return out
}

// snippet is line (1-based) of text with a caret under col.
func snippet(text []byte, line, col int) string {
	lines := strings.Split(string(text), "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	s := strings.TrimRight(lines[line-1], "\r")
	if col < 1 {
		return s
	}
	return s + "\n" + strings.Repeat(" ", min(col-1, len(s))) + "^"
}

// RulesView is GET /console/api/rules.
type RulesView struct {
	Set       ops.RuleSet   `json:"set"`
	Files     []string      `json:"files"`
	LastError []ProblemView `json:"last_error"`
	Apply     bool          `json:"apply"`
	ApplyWhy  string        `json:"apply_why,omitempty"`
}

// FileBody is a rule file's name and text, in and out.
type FileBody struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

// CheckResult is the answer of a check or an apply.
type CheckResult struct {
	OK       bool          `json:"ok"`
	Rules    int           `json:"rules"`
	Problems []ProblemView `json:"problems"`
	Applied  bool          `json:"applied,omitempty"`
	Version  string        `json:"version,omitempty"`
}

func (c *server) ruleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/api/rules", c.rules)
	mux.HandleFunc("GET /console/api/rules/file", c.ruleFile)
	mux.HandleFunc("POST /console/api/rules/check", c.checkRules)
	mux.HandleFunc("POST /console/api/rules/apply", c.applyRules)
}

func (c *server) noRules(w http.ResponseWriter) bool {
	if c.o.Rules == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"no rules loaded"})
		return true
	}
	return false
}

func (c *server) rules(w http.ResponseWriter, _ *http.Request) {
	if c.noRules(w) {
		return
	}
	rs := c.o.Rules
	v := RulesView{Set: rs.Info(), Files: nonNil(rs.Files()), LastError: []ProblemView{}, ApplyWhy: rs.CanApply()}
	v.Apply = v.ApplyWhy == ""
	if v.Set.Rules == nil {
		v.Set.Rules = []ops.RuleInfo{}
	}
	if err := rs.LastError(); err != nil {
		v.LastError = problems(err, func(f string) []byte {
			b, _ := rs.Read(f)
			return b
		})
	}
	writeJSON(w, http.StatusOK, v)
}

// known refuses a file that is not one of the set's.
func (c *server) known(w http.ResponseWriter, name string) bool {
	if !slices.Contains(c.o.Rules.Files(), name) {
		writeJSON(w, http.StatusNotFound, errorBody{"not a file of the rules in force"})
		return false
	}
	return true
}

func (c *server) ruleFile(w http.ResponseWriter, r *http.Request) {
	if c.noRules(w) {
		return
	}
	name := r.URL.Query().Get("name")
	if !c.known(w, name) {
		return
	}
	b, err := c.o.Rules.Read(name)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, errorBody{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, FileBody{Name: name, Text: string(b)})
}

func (c *server) check(w http.ResponseWriter, r *http.Request) (FileBody, CheckResult, bool) {
	var in FileBody
	if c.noRules(w) || !readJSON(w, r, &in) || !c.known(w, in.Name) {
		return in, CheckResult{}, false
	}
	n, err := c.o.Rules.Check(in.Name, []byte(in.Text))
	res := CheckResult{OK: err == nil, Rules: n, Problems: []ProblemView{}}
	if err != nil {
		res.Problems = problems(err, func(f string) []byte {
			if f == in.Name {
				return []byte(in.Text)
			}
			b, _ := c.o.Rules.Read(f)
			return b
		})
	}
	return in, res, true
}

func (c *server) checkRules(w http.ResponseWriter, r *http.Request) {
	if _, res, ok := c.check(w, r); ok {
		writeJSON(w, http.StatusOK, res)
	}
}

func (c *server) applyRules(w http.ResponseWriter, r *http.Request) {
	if c.o.Rules != nil {
		if why := c.o.Rules.CanApply(); why != "" {
			writeJSON(w, http.StatusForbidden, errorBody{"rules cannot be applied from the console: " + why})
			return
		}
	}
	in, res, ok := c.check(w, r)
	if !ok {
		return
	}
	if !res.OK {
		writeJSON(w, http.StatusUnprocessableEntity, res)
		return
	}
	if err := c.o.Rules.Apply(r.Context(), in.Name, []byte(in.Text)); err != nil {
		res.OK, res.Problems = false, problems(err, func(string) []byte { return []byte(in.Text) })
		writeJSON(w, http.StatusUnprocessableEntity, res)
		return
	}
	res.Applied, res.Version = true, c.o.Rules.Info().Version
	c.o.Logger.WithFields(map[string]any{"file": in.Name, "version": res.Version}).Info("console: rules applied")
	writeJSON(w, http.StatusOK, res)
}
