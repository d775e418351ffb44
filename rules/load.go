package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones work on hosts without a zoneinfo database

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	exprfile "github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"github.com/ucwabot/ucwabot/bot/event"
)

// Version is the rules file format version this package reads.
const Version = 1

// Options configure loading.
type Options struct {
	// Build builds the handler of each rule step. Nil accepts every plugin
	// name and leaves Step.Instance nil (enough to check conditions).
	Build Builder
	// Location overrides the files' timezone key.
	Location *time.Location
	// MaxNodes limits the size of one expression; 0 means 2000.
	MaxNodes uint
}

// Load reads the rules files at paths (a directory stands for its *.yaml
// and *.yml files, sorted, except rule test cases named *.cases.yaml) and
// the files they include, and returns the compiled Set. The error, when
// not nil, is an Errors listing every problem found.
func Load(opts Options, paths ...string) (*Set, error) {
	l := newLoader(opts)
	if len(paths) == 0 {
		l.errs = append(l.errs, &Error{File: "rules", Msg: "no rules file given"})
	}
	for _, p := range paths {
		l.loadPath(p)
	}
	return l.finish()
}

// LoadBytes is Load for one file held in memory; name is used in errors
// and includes are resolved relative to its directory.
func LoadBytes(opts Options, name string, data []byte) (*Set, error) {
	l := newLoader(opts)
	l.loadFile(name, data)
	return l.finish()
}

// pos is a place in a file.
type pos struct {
	file      string
	line, col int
}

func at(file string, n *yaml.Node) pos { return pos{file, n.Line, n.Column} }

type loader struct {
	opts   Options
	errs   Errors
	seen   map[string]bool // absolute paths loaded
	hash   hash.Hash       // sha256 of the files' base names and contents
	files  []string
	vars   map[string]any
	varPos map[string]pos
	tz     string
	tzPos  pos
	// helpWord is the files' help.command (nil: not set); helpIntro its
	// intro.
	helpWord  *string
	helpIntro string
	invPos    pos
	invNode   *yaml.Node
	subs      []string
	rules     []*Rule
	names     map[string]*Rule
	src       map[string][]byte // file name → content, for expression positions
	stack     []string          // absolute paths of the files being read, outermost first
	deps      []string          // files the handlers read, in the order first seen
	depSeen   map[string]bool   // absolute paths of deps, and "$NAME" of environment variables
}

func newLoader(opts Options) *loader {
	if opts.MaxNodes == 0 {
		opts.MaxNodes = 2000
	}
	return &loader{
		opts:    opts,
		hash:    sha256.New(),
		seen:    map[string]bool{},
		vars:    map[string]any{},
		varPos:  map[string]pos{},
		names:   map[string]*Rule{},
		src:     map[string][]byte{},
		depSeen: map[string]bool{},
	}
}

func (l *loader) errorf(p pos, rule, field, format string, args ...any) {
	l.errs = append(l.errs, &Error{File: p.file, Line: p.line, Col: p.col, Rule: rule, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// loadPath loads a file or the rules files of a directory.
func (l *loader) loadPath(path string) {
	fi, err := os.Stat(path)
	if err != nil {
		l.errs = append(l.errs, &Error{File: path, Msg: cleanOSError(err)})
		return
	}
	if !fi.IsDir() {
		l.readFile(path)
		return
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		l.errs = append(l.errs, &Error{File: path, Msg: cleanOSError(err)})
		return
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() && isRulesFile(e.Name()) {
			l.readFile(filepath.Join(path, e.Name()))
			n++
		}
	}
	if n == 0 {
		l.errs = append(l.errs, &Error{File: path, Msg: "directory has no *.yaml or *.yml rules file"})
	}
}

// isRulesFile reports whether a directory entry is a rules file: YAML, and
// not a rule test cases file.
func isRulesFile(name string) bool {
	ext := filepath.Ext(name)
	if ext != ".yaml" && ext != ".yml" {
		return false
	}
	return !strings.HasSuffix(strings.TrimSuffix(name, ext), ".cases")
}

func cleanOSError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func (l *loader) readFile(path string) {
	if abs, err := filepath.Abs(path); err == nil {
		if l.seen[abs] {
			return
		}
		l.seen[abs] = true
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > MaxFileSize {
		l.errs = append(l.errs, &Error{File: path, Msg: fmt.Sprintf("file of %d bytes is over the limit of %d bytes", fi.Size(), MaxFileSize)})
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		l.errs = append(l.errs, &Error{File: path, Msg: cleanOSError(err)})
		return
	}
	l.loadFile(path, data)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlParserErrors are the messages of the YAML library's parser (as
// opposed to its scanner), whose line numbers are 0-based.
var yamlParserErrors = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found undefined tag handle":             true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// loadFile parses one file's content.
func (l *loader) loadFile(name string, data []byte) {
	abs, err := filepath.Abs(name)
	if err != nil {
		abs = name
	}
	l.seen[abs] = true
	l.stack = append(l.stack, abs)
	defer func() { l.stack = l.stack[:len(l.stack)-1] }()
	l.files = append(l.files, name)
	l.src[name] = data
	// The version hashes base names, not paths, so that the same files give
	// the same version wherever they are installed.
	fmt.Fprintf(l.hash, "%s\x00%d\x00", filepath.Base(name), len(data))
	l.hash.Write(data)

	root, errs := parseYAML(name, data)
	if len(errs) > 0 {
		l.errs = append(l.errs, errs...)
		return
	}
	if root == nil {
		l.errorf(pos{name, 1, 1}, "", "", "the file is empty (a rules file has at least `version: 1` and `rules:`)")
		return
	}
	if root.Kind != yaml.MappingNode {
		l.errorf(at(name, root), "", "", "a rules file is a mapping with the keys version, timezone, vars, include, subscribe, invitations and rules")
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "version":
			n, err := strconv.Atoi(v.Value)
			if v.Kind != yaml.ScalarNode || err != nil || n != Version {
				l.errorf(at(name, v), "", "version", "unsupported version %q (this bot reads version %d)", v.Value, Version)
			}
		case "timezone":
			l.timezone(name, v)
		case "vars":
			l.loadVars(name, v)
		case "include":
			for _, s := range l.strings(name, "", "include", v) {
				l.globs(name, s)
			}
		case "subscribe":
			for _, s := range l.strings(name, "", "subscribe", v) {
				if !strings.Contains(s.value, "@") {
					l.errorf(s.pos, "", "subscribe", "%q is not a SIP URI (sip:user@domain)", s.value)
					continue
				}
				l.subs = append(l.subs, s.value)
			}
		case "invitations":
			l.invitations(name, v)
		case "help":
			l.help(name, v)
		case "rules":
			if v.Kind != yaml.SequenceNode {
				l.errorf(at(name, v), "", "rules", "want a list of rules")
				continue
			}
			for _, item := range v.Content {
				l.loadRule(name, item)
			}
		default:
			if strings.HasPrefix(k.Value, "x-") {
				continue // a place for anchors (x-defaults: &defaults), read only through aliases
			}
			l.errorf(at(name, k), "", "", "unknown key %q (known: version, timezone, vars, include, subscribe, invitations, help, rules, or x-NAME for anchors)", k.Value)
		}
	}
}

// globs loads the files an include pattern matches, relative to the
// including file's directory.
func (l *loader) globs(from string, s str) {
	pattern := s.value
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(from), pattern)
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		l.errorf(s.pos, "", "include", "bad pattern %q: %v", s.value, err)
		return
	}
	if len(matches) == 0 {
		l.errorf(s.pos, "", "include", "%q matches no file", s.value)
		return
	}
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.IsDir() {
			continue
		}
		if cycle := l.cycle(m); cycle != "" {
			l.errorf(s.pos, "", "include", "include cycle: %s", cycle)
			continue
		}
		l.readFile(m)
	}
}

// cycle describes the include cycle that reading path would close
// ("a.yaml includes b.yaml, which includes a.yaml"), or returns "" when
// path is not being read. A file included twice without a cycle is read
// once.
func (l *loader) cycle(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	for i, f := range l.stack {
		if f != abs {
			continue
		}
		chain := append(append([]string(nil), l.stack[i:]...), abs)
		var b strings.Builder
		for j, c := range chain {
			switch {
			case j == 0:
			case j == 1:
				b.WriteString(" includes ")
			default:
				b.WriteString(", which includes ")
			}
			b.WriteString(l.display(c))
		}
		return b.String()
	}
	return ""
}

// display returns the name under which the file at abs was given, for
// messages.
func (l *loader) display(abs string) string {
	for _, f := range l.files {
		if a, err := filepath.Abs(f); err == nil && a == abs {
			return f
		}
	}
	return abs
}

type str struct {
	value string
	pos   pos
}

// strings reads a scalar or a list of scalars.
func (l *loader) strings(file, rule, field string, v *yaml.Node) []str {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Value == "" {
			l.errorf(at(file, v), rule, field, "empty value")
			return nil
		}
		return []str{{v.Value, at(file, v)}}
	case yaml.SequenceNode:
		var out []str
		for _, item := range v.Content {
			if item.Kind != yaml.ScalarNode || item.Value == "" {
				l.errorf(at(file, item), rule, field, "want a non-empty string")
				continue
			}
			out = append(out, str{item.Value, at(file, item)})
		}
		return out
	}
	l.errorf(at(file, v), rule, field, "want a string or a list of strings")
	return nil
}

func (l *loader) timezone(file string, v *yaml.Node) {
	if v.Kind != yaml.ScalarNode {
		l.errorf(at(file, v), "", "timezone", "want an IANA time zone name such as Europe/Berlin")
		return
	}
	if _, err := time.LoadLocation(v.Value); err != nil {
		l.errorf(at(file, v), "", "timezone", "unknown time zone %q", v.Value)
		return
	}
	if l.tz != "" && l.tz != v.Value {
		l.errorf(at(file, v), "", "timezone", "%q differs from %q set at %s:%d", v.Value, l.tz, l.tzPos.file, l.tzPos.line)
		return
	}
	l.tz, l.tzPos = v.Value, at(file, v)
}

func (l *loader) loadVars(file string, v *yaml.Node) {
	if v.Kind != yaml.MappingNode {
		l.errorf(at(file, v), "", "vars", "want a mapping of names to values")
		return
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if prev, dup := l.varPos[k.Value]; dup {
			l.errorf(at(file, k), "", "vars", "%q is already defined at %s:%d", k.Value, prev.file, prev.line)
			continue
		}
		var x any
		if err := val.Decode(&x); err != nil {
			l.errorf(at(file, val), "", "vars."+k.Value, "%v", err)
			continue
		}
		l.vars[k.Value], l.varPos[k.Value] = x, at(file, k)
	}
}

func (l *loader) invitations(file string, v *yaml.Node) {
	if v.Kind != yaml.MappingNode {
		l.errorf(at(file, v), "", "invitations", "want a mapping with the key accept")
		return
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if k.Value != "accept" {
			l.errorf(at(file, k), "", "invitations", "unknown key %q (known: accept)", k.Value)
			continue
		}
		if l.invNode != nil {
			l.errorf(at(file, k), "", "invitations.accept", "already set at %s:%d", l.invPos.file, l.invPos.line)
			continue
		}
		if val.Kind != yaml.ScalarNode || val.Value == "" {
			l.errorf(at(file, val), "", "invitations.accept", "want an expression")
			continue
		}
		l.invPos, l.invNode = at(file, val), val
	}
}

var ruleKeys = "name, description, on, when, do, on_error, stop, enabled, priority, cooldown, command, help, restrict_to, every, cron"

func (l *loader) loadRule(file string, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		l.errorf(at(file, n), "", "rules", "a rule is a mapping with the keys %s", ruleKeys)
		return
	}
	r := &Rule{File: file, Line: n.Line, Col: n.Column, Enabled: true, order: len(l.rules)}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" {
			r.Name = n.Content[i+1].Value
		}
	}
	name := r.Name
	if name == "" {
		name = fmt.Sprintf("#%d", len(l.rules)+1)
		l.errorf(at(file, n), name, "name", "required")
	} else if prev, dup := l.names[name]; dup {
		l.errorf(at(file, n), name, "name", "already used by the rule at %s:%d", prev.File, prev.Line)
	}
	var haveOn, haveDo, haveCommand, haveSchedule bool
	var whenNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := at(file, v)
		switch k.Value {
		case "name":
			if v.Kind != yaml.ScalarNode {
				l.errorf(p, name, "name", "want a string")
			}
		case "description":
			r.Description = v.Value
		case "on":
			haveOn = true
			if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
				l.errorf(p, name, "on", "empty list: a rule is for at least one event kind, or it never fires")
				continue
			}
			for _, s := range l.strings(file, name, "on", v) {
				kind, err := event.ParseKind(s.value)
				if err != nil {
					l.errorf(s.pos, name, "on", "%v", err)
					continue
				}
				if !containsKind(r.On, kind) {
					r.On = append(r.On, kind)
				}
			}
		case "when":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" && v.Tag != "!!bool" {
				l.errorf(p, name, "when", "want an expression")
				continue
			}
			r.When, whenNode = v.Value, v
		case "do":
			haveDo = true
			r.Do = l.loadSteps(file, name, "do", v)
		case "on_error":
			r.OnError = l.loadSteps(file, name, "on_error", v)
		case "stop":
			r.Stop = l.boolean(file, name, "stop", v)
		case "enabled":
			r.Enabled = l.boolean(file, name, "enabled", v)
		case "priority":
			n, err := strconv.Atoi(v.Value)
			if v.Kind != yaml.ScalarNode || err != nil {
				l.errorf(p, name, "priority", "want an integer, got %q", v.Value)
			}
			r.Priority = n
		case "cooldown":
			r.Cooldown = l.cooldown(file, name, v)
		case "command":
			haveCommand = true
			l.command(file, r, v)
		case "help":
			if v.Kind != yaml.ScalarNode {
				l.errorf(p, name, "help", "want a line of text saying what the command does")
			}
			r.Help = v.Value
		case "restrict_to":
			l.restrictTo(file, r, v)
		case "every", "cron":
			haveSchedule = true
			l.schedule(file, r, k.Value, v)
		default:
			l.errorf(at(file, k), name, "", "unknown key %q (known: %s)", k.Value, ruleKeys)
		}
	}
	if r.Help != "" && r.Command == "" {
		l.errorf(at(file, n), name, "help", "a rule with help needs a command: the help answer lists commands")
	}
	if haveSchedule && (haveOn || haveCommand) {
		l.errorf(at(file, n), name, "on", "a rule with every or cron fires on its schedule (schedule.fired): leave on and command out")
	} else if !l.checkCommand(file, n, r, haveOn) && !haveCommand && !haveSchedule {
		l.errorf(at(file, n), name, "on", "required: the event kinds the rule is for")
	}
	if !haveDo {
		l.errorf(at(file, n), name, "do", "required: the handler calls the rule makes")
	}
	r.whenNode = whenNode // compiled in finish, when every file's vars are known
	l.rules = append(l.rules, r)
	if r.Name != "" && l.names[r.Name] == nil {
		l.names[r.Name] = r
	}
}

func containsKind(ks []event.Kind, k event.Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

func (l *loader) boolean(file, rule, field string, v *yaml.Node) bool {
	if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
		l.errorf(at(file, v), rule, field, "want true or false, got %q", v.Value)
		return false
	}
	b, _ := strconv.ParseBool(strings.ToLower(v.Value))
	return b
}

func (l *loader) loadSteps(file, rule, list string, v *yaml.Node) []Step {
	if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
		l.errorf(at(file, v), rule, list, "want a list of handler calls such as `- reply: {text: hi}`")
		return nil
	}
	var steps []Step
	for i, item := range v.Content {
		field := fmt.Sprintf("%s[%d]", list, i)
		var s Step
		switch {
		case item.Kind == yaml.ScalarNode && item.Value != "":
			s = Step{Plugin: item.Value, File: file, Line: item.Line, Col: item.Column}
		case item.Kind == yaml.MappingNode && len(item.Content) == 2:
			k := item.Content[0]
			s = Step{Plugin: k.Value, Params: item.Content[1], File: file, Line: k.Line, Col: k.Column}
			if s.Params.Tag == "!!null" {
				s.Params = nil
			}
		default:
			l.errorf(at(file, item), rule, field, "want a plugin name, or one plugin name mapped to its parameters")
			continue
		}
		steps = append(steps, s)
	}
	return steps
}

func (l *loader) cooldown(file, rule string, v *yaml.Node) *Cooldown {
	if v.Kind != yaml.MappingNode {
		l.errorf(at(file, v), rule, "cooldown", "want a mapping with window and per")
		return nil
	}
	c := &Cooldown{PerConversation: true, PerParticipant: true}
	haveWindow := false
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		switch k.Value {
		case "window":
			haveWindow = true
			d, err := parseWindow(val.Value)
			if val.Kind != yaml.ScalarNode || err != nil {
				l.errorf(at(file, val), rule, "cooldown.window", "want a positive duration such as 30m, 24h or 7d, got %q", val.Value)
				continue
			}
			c.Window = d
		case "per":
			c.PerConversation, c.PerParticipant = false, false
			if val.Kind == yaml.SequenceNode && len(val.Content) == 0 {
				continue
			}
			for _, s := range l.strings(file, rule, "cooldown.per", val) {
				switch s.value {
				case "conversation":
					c.PerConversation = true
				case "participant":
					c.PerParticipant = true
				default:
					l.errorf(s.pos, rule, "cooldown.per", "unknown key part %q (known: conversation, participant)", s.value)
				}
			}
		default:
			l.errorf(at(file, k), rule, "cooldown", "unknown key %q (known: window, per)", k.Value)
		}
	}
	if !haveWindow {
		l.errorf(at(file, v), rule, "cooldown.window", "required")
	}
	return c
}

// maxWindowDays keeps a window of days inside time.Duration's range.
const maxWindowDays = int(math.MaxInt64 / int64(24*time.Hour))

// parseWindow parses a Go duration, or a whole number of days ("7d").
func parseWindow(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err == nil && n > 0 && n <= maxWindowDays {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err == nil && d <= 0 {
		err = errors.New("not positive")
	}
	return d, err
}

// compile compiles one expression, reporting errors at their place in the
// file.
func (l *loader) compile(file, rule, field string, n *yaml.Node) *vm.Program {
	check := &clockCheck{}
	consts := &varsPatch{vars: l.vars}
	opts := append([]expr.Option{
		expr.Env(Env{}),
		expr.AsBool(),
		expr.MaxNodes(l.opts.MaxNodes),
		expr.Patch(consts),
		expr.Patch(check),
	}, functions...)
	prog, err := expr.Compile(n.Value, opts...)
	if err == nil && consts.err != nil {
		err = consts.err.Bind(exprfile.NewSource(n.Value))
	}
	if err == nil && check.err != nil {
		err = check.err.Bind(exprfile.NewSource(n.Value))
	}
	if err == nil {
		// The program that runs reads string fields through Env.Boxed;
		// the checks above were made on the typed reads.
		if fast, ferr := expr.Compile(n.Value, append(opts, expr.Patch(boxedPatch{}))...); ferr == nil {
			return fast
		}
		return prog
	}
	e := &Error{File: file, Line: n.Line, Col: n.Column, Rule: rule, Field: field, Msg: err.Error()}
	var fe *exprfile.Error
	if errors.As(err, &fe) {
		e.Line, e.Col = l.exprPos(file, n, fe.Line, fe.Column)
		e.Msg = fe.Message + fe.Snippet
	}
	l.errs = append(l.errs, e)
	return nil
}

// exprPos maps a position inside an expression (line from 1, column from 0)
// to its line and column in the file.
func (l *loader) exprPos(file string, n *yaml.Node, line, col int) (int, int) {
	if line < 1 {
		line = 1
	}
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// The content starts on the line after the indicator; its lines
		// lose the block's indentation, which is that of its first
		// non-blank line.
		fl := n.Line + line
		return fl, blockIndent(l.src[file], n.Line+1) + col + 1
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if line == 1 {
			return n.Line, n.Column + 1 + quotedOffset(l.src[file], n, col)
		}
	default:
		if line == 1 {
			return n.Line, n.Column + col
		}
	}
	return n.Line + line - 1, indentOf(l.src[file], n.Line+line-1) + col + 1
}

// quotedOffset maps the offset col in the decoded text of a quoted scalar
// to the offset, after the opening quote, of the same character in the
// file, counting escapes ("\"", "”") as written. It returns col when the
// scalar does not fit on its line.
func quotedOffset(src []byte, n *yaml.Node, col int) int {
	lines := bytes.Split(src, []byte("\n"))
	if n.Line < 1 || n.Line > len(lines) {
		return col
	}
	line := []rune(string(lines[n.Line-1]))
	i := n.Column // the rune after the opening quote
	for k := 0; k < col; k++ {
		if i >= len(line) {
			return col
		}
		switch {
		case n.Style == yaml.SingleQuotedStyle && line[i] == '\'' && i+1 < len(line) && line[i+1] == '\'':
			i += 2
		case n.Style == yaml.DoubleQuotedStyle && line[i] == '\\' && i+1 < len(line):
			switch line[i+1] {
			case 'x':
				i += 4
			case 'u':
				i += 6
			case 'U':
				i += 10
			default:
				i += 2
			}
		default:
			i++
		}
	}
	return i - n.Column
}

// blockIndent returns the indentation of the first non-blank line from the
// 1-based line first on: the indentation of a block scalar starting there.
func blockIndent(src []byte, first int) int {
	lines := bytes.Split(src, []byte("\n"))
	for i := first - 1; i >= 0 && i < len(lines); i++ {
		if len(bytes.TrimSpace(lines[i])) > 0 {
			return len(lines[i]) - len(bytes.TrimLeft(lines[i], " "))
		}
	}
	return 0
}

// indentOf returns the number of leading spaces of a 1-based line.
func indentOf(src []byte, line int) int {
	lines := bytes.Split(src, []byte("\n"))
	if line < 1 || line > len(lines) {
		return 0
	}
	s := lines[line-1]
	return len(s) - len(bytes.TrimLeft(s, " "))
}

// varsPatch replaces vars.NAME (and constant indexes into it, such as
// vars.hours[0]) by the value itself: vars are constants of the files, so
// expressions get their real types, and a name no file defines is a load
// error rather than a nil at event time.
type varsPatch struct {
	vars map[string]any
	err  *exprfile.Error
}

func (p *varsPatch) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || p.err != nil {
		return
	}
	switch base := m.Node.(type) {
	case *ast.IdentifierNode:
		key, ok := m.Property.(*ast.StringNode)
		if !ok || base.Value != "vars" {
			return
		}
		v, ok := p.vars[key.Value]
		if !ok {
			names := make([]string, 0, len(p.vars))
			for k := range p.vars {
				names = append(names, k)
			}
			sort.Strings(names)
			p.err = &exprfile.Error{Location: m.Location(), Message: fmt.Sprintf("unknown var %q (defined: %s)", key.Value, strings.Join(names, ", "))}
			return
		}
		ast.Patch(node, &ast.ConstantNode{Value: v})
	case *ast.ConstantNode:
		switch prop := m.Property.(type) {
		case *ast.IntegerNode:
			if list, ok := base.Value.([]any); ok && prop.Value >= 0 && prop.Value < len(list) {
				ast.Patch(node, &ast.ConstantNode{Value: list[prop.Value]})
			}
		case *ast.StringNode:
			if mm, ok := base.Value.(map[string]any); ok {
				if v, ok := mm[prop.Value]; ok {
					ast.Patch(node, &ast.ConstantNode{Value: v})
				}
			}
		}
	}
}

// clockCheck checks the constant arguments of between() at compile time.
type clockCheck struct{ err *exprfile.Error }

func (c *clockCheck) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || c.err != nil {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || id.Value != "between" {
		return
	}
	for _, a := range call.Arguments {
		var clock string
		switch a := a.(type) {
		case *ast.StringNode:
			clock = a.Value
		case *ast.ConstantNode: // a var, inlined by varsPatch
			s, ok := a.Value.(string)
			if !ok {
				c.err = &exprfile.Error{Location: a.Location(), Message: fmt.Sprintf("between: %v is not a time of day (want HH:MM)", a.Value)}
				return
			}
			clock = s
		default:
			continue
		}
		if _, err := parseClock(clock); err != nil {
			c.err = &exprfile.Error{Location: a.Location(), Message: err.Error()}
			return
		}
	}
}

// finish builds the handlers and the Set once every file is read.
func (l *loader) finish() (*Set, error) {
	loc := l.opts.Location
	if loc == nil {
		loc = time.Local
		if l.tz != "" {
			loc, _ = time.LoadLocation(l.tz)
		}
	}
	s := &Set{loc: loc, vars: l.vars, files: l.files, subs: dedupe(l.subs), byKind: map[event.Kind][]*Rule{},
		helpWord: DefaultHelpCommand, helpIntro: DefaultHelpIntro}
	if l.helpWord != nil {
		s.helpWord = *l.helpWord
	}
	if l.helpIntro != "" {
		s.helpIntro = l.helpIntro
	}
	for _, r := range l.rules {
		s.hasCommands = s.hasCommands || r.Command != "" && r.Enabled
		if r.Command != "" && r.Command == s.helpWord {
			s.helpWord = "" // a rule answers it
		}
	}
	if l.invNode != nil {
		s.usesPerson = strings.Contains(l.invNode.Value, "person")
		s.invitation = l.compile(l.invPos.file, "", "invitations.accept", l.invNode)
	}
	for _, r := range l.rules {
		if r.whenNode != nil {
			s.usesPerson = s.usesPerson || strings.Contains(r.whenNode.Value, "person")
			r.program = l.compile(r.File, r.Name, "when", r.whenNode)
			if r.program != nil {
				r.prefix = prefixOf(r.whenNode.Value)
			}
			r.whenNode = nil
		}
	}
	if l.opts.Build != nil {
		for _, r := range l.rules {
			l.build(r, "do", r.Do)
			l.build(r, "on_error", r.OnError)
		}
	}
	s.all, s.deps = l.rules, l.deps
	if len(l.errs) > 0 {
		_ = s.Close()
		sort.SliceStable(l.errs, func(i, j int) bool {
			a, b := l.errs[i], l.errs[j]
			if a.File != b.File {
				return fileIndex(l.files, a.File) < fileIndex(l.files, b.File)
			}
			return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
		})
		return nil, l.errs
	}
	sort.SliceStable(s.all, func(i, j int) bool {
		if s.all[i].Priority != s.all[j].Priority {
			return s.all[i].Priority > s.all[j].Priority
		}
		return s.all[i].order < s.all[j].order
	})
	for _, r := range s.all {
		if !r.Enabled {
			continue
		}
		for _, k := range r.On {
			s.byKind[k] = append(s.byKind[k], r)
		}
	}
	s.version = "sha256:" + hex.EncodeToString(l.hash.Sum(nil)[:6])
	s.pool.New = func() any { return &evaluator{env: newEnv(s.vars)} }
	return s, nil
}

// build builds the handler instances of a rule's steps (list names them
// in errors: do or on_error).
func (l *loader) build(r *Rule, list string, steps []Step) {
	for i := range steps {
		st := &steps[i]
		inst, err := l.opts.Build(st.Plugin, st.Params)
		if err != nil {
			e := &Error{File: st.File, Line: st.Line, Col: st.Col, Rule: r.Name, Field: fmt.Sprintf("%s[%d] %s", list, i, st.Plugin), Msg: err.Error()}
			l.relocate(e, st)
			l.errs = append(l.errs, e)
			continue
		}
		st.Instance = inst
		l.dependencies(st)
		if tp, ok := inst.(Templated); ok {
			l.checkTemplates(r, list, i, st, tp)
		}
	}
}

var paramLine = regexp.MustCompile(`^line (\d+): `)

// relocate moves a plugin's parameter error to the line it names, when it
// names one ("line 12: field txt not found in type ...").
func (l *loader) relocate(e *Error, st *Step) {
	m := paramLine.FindStringSubmatch(e.Msg)
	if m == nil {
		return
	}
	if n, err := strconv.Atoi(m[1]); err == nil && n >= st.Line {
		e.Line, e.Col = n, indentOf(l.src[st.File], n)+1
		if st.Params != nil && n == st.Params.Line {
			e.Col = st.Params.Column
		}
		if st.Params != nil {
			for _, c := range st.Params.Content {
				if c.Line == n {
					e.Col = c.Column
					break
				}
			}
		}
		e.Msg = e.Msg[len(m[0]):]
	}
}

func fileIndex(files []string, f string) int {
	for i, x := range files {
		if x == f {
			return i
		}
	}
	return len(files)
}

func dedupe(xs []string) []string {
	var out []string
	for _, x := range xs {
		dup := false
		for _, y := range out {
			if strings.EqualFold(x, y) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, x)
		}
	}
	return out
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
