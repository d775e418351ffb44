package rules

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Limits of what one rules file may hold. Larger input is refused with a
// position rather than loaded into memory as it comes.
const (
	// MaxFileSize is the largest rules file read (4 MiB).
	MaxFileSize = 4 << 20
	// MaxScalar is the largest single value in a rules file (64 KiB).
	MaxScalar = 64 << 10
	// maxExpanded bounds the nodes aliases may expand to in one file, so
	// that a few nested aliases (a "billion laughs") cannot exhaust memory.
	maxExpanded = 200_000
	// maxDepth bounds the nesting of a file's values.
	maxDepth = 100
)

// parseYAML parses a rules file into its root node with every alias and
// merge key (<<) resolved as YAML defines them: the nodes an alias stands
// for keep the positions where they are written. Problems are reported as
// Errors with positions: text that is not UTF-8 or holds control bytes,
// duplicate keys in a mapping, values over MaxScalar, syntax errors. A nil
// root with no errors means the file holds no document.
func parseYAML(name string, data []byte) (*yaml.Node, Errors) {
	if len(data) > MaxFileSize {
		return nil, Errors{{File: name, Msg: fmt.Sprintf("file of %d bytes is over the limit of %d bytes", len(data), MaxFileSize)}}
	}
	if e := checkText(name, data); e != nil {
		return nil, Errors{e}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{syntaxError(name, data, err)}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	v := &validator{file: name}
	v.walk(doc.Content[0], 0)
	if len(v.errs) > 0 {
		return nil, v.errs
	}
	x := &expander{file: name}
	root := x.expand(doc.Content[0], 0)
	if x.err != nil {
		return nil, Errors{x.err}
	}
	return root, nil
}

// checkText refuses content that is not UTF-8 text, naming the line and
// column of the first offending byte.
func checkText(name string, data []byte) *Error {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return &Error{File: name, Line: line, Col: col, Msg: fmt.Sprintf("byte 0x%02x is not UTF-8 text (a rules file is UTF-8)", data[i])}
		case r == 0 || r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f:
			return &Error{File: name, Line: line, Col: col, Msg: fmt.Sprintf("control character 0x%02x: this is not a text file", r)}
		case r == '\uFEFF' && i == 0: // a byte order mark
		case r == '\n':
			line, col = line+1, 0
		}
		i += size
		col++
	}
	return nil
}

// syntaxError turns a parser error of the YAML library into an Error at
// the place of the problem. The library names the line where the
// enclosing block starts, or no line at all, so the line is found as the
// shortest run of whole lines from the start that fails with the same
// message, and the column is that line's first non-blank character (the
// alias or the tab, for problems with one).
func syntaxError(name string, data []byte, err error) *Error {
	e := &Error{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
		if yamlParserErrors[e.Msg] {
			// Parser errors (not scanner errors) come with the 0-based
			// line of the mark.
			e.Line++
		}
	}
	if line, col, ok := locateSyntax(data, e.Msg); ok {
		e.Line, e.Col = line, col
	}
	if strings.HasPrefix(e.Msg, "did not find expected") {
		e.Msg += " (check the indentation of this line and of the lines before)"
	}
	return e
}

var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// locateSyntax finds the line and column of the problem msg in data.
func locateSyntax(data []byte, msg string) (int, int, bool) {
	var ends []int // the end of each line
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	fails := func(n int) bool {
		var doc yaml.Node
		err := yaml.Unmarshal(data[:ends[n]], &doc)
		if err == nil {
			return false
		}
		got := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			got = m[2]
		}
		return got == msg
	}
	n := sort.Search(len(ends), fails)
	if n == len(ends) {
		return 0, 0, false
	}
	start := 0
	if n > 0 {
		start = ends[n-1]
	}
	text := string(data[start:ends[n]])
	i := len(text) - len(strings.TrimLeft(text, " "))
	if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
		if j := strings.Index(text, "*"+m[1]); j >= 0 {
			i = j
		}
	} else if j := strings.IndexByte(text, '\t'); j >= 0 && (strings.Contains(msg, "cannot start any token") || strings.Contains(msg, "tab character")) {
		i = j
	}
	return n + 1, utf8.RuneCountInString(text[:i]) + 1, true
}

// validator checks the tree as written, before aliases are resolved, so
// each problem is reported once, where it is written.
type validator struct {
	file string
	errs Errors
}

func (v *validator) errorf(n *yaml.Node, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) walk(n *yaml.Node, depth int) {
	if depth > maxDepth {
		v.errorf(n, "values nested deeper than %d levels", maxDepth)
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if len(n.Value) > MaxScalar {
			v.errorf(n, "a value of %d bytes is over the limit of %d bytes", len(n.Value), MaxScalar)
		}
	case yaml.MappingNode:
		first := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode {
				if prev, dup := first[k.Value]; dup {
					v.errorf(k, "duplicate key %q: already defined at %s:%d:%d", k.Value, v.file, prev.Line, prev.Column)
				} else {
					first[k.Value] = k
				}
			}
			v.walk(k, depth+1)
			v.walk(n.Content[i+1], depth+1)
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			v.walk(c, depth+1)
		}
	}
}

// expander resolves aliases and merge keys into a tree of copies.
type expander struct {
	file    string
	nodes   int
	err     *Error
	aliases []*yaml.Node // the aliases being expanded, outermost first
}

func (x *expander) fail(n *yaml.Node, format string, args ...any) {
	if x.err == nil {
		x.err = &Error{File: x.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)}
	}
}

// expand returns a copy of n without aliases and merge keys.
func (x *expander) expand(n *yaml.Node, depth int) *yaml.Node {
	if x.err != nil {
		return n
	}
	if x.nodes++; x.nodes > maxExpanded {
		at := n
		if len(x.aliases) > 0 {
			at = x.aliases[0]
		}
		x.fail(at, "aliases expand to more than %d values", maxExpanded)
		return n
	}
	if depth > maxDepth {
		x.fail(n, "values nested deeper than %d levels (an alias that contains itself?)", maxDepth)
		return n
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			x.fail(n, "unknown anchor %q", n.Value)
			return n
		}
		x.aliases = append(x.aliases, n)
		defer func() { x.aliases = x.aliases[:len(x.aliases)-1] }()
		return x.expand(n.Alias, depth+1)
	}
	c := *n
	c.Anchor, c.Alias = "", nil
	if len(n.Content) == 0 {
		c.Content = nil
		return &c
	}
	if n.Kind != yaml.MappingNode {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, ch := range n.Content {
			c.Content[i] = x.expand(ch, depth+1)
		}
		return &c
	}
	c.Content = x.mapping(n, depth)
	return &c
}

// mapping returns the pairs of a mapping with its merge keys resolved: the
// keys of the merged mappings take the place of the merge key, except
// those the mapping sets itself; of several merged mappings, the first
// that has a key gives it.
func (x *expander) mapping(n *yaml.Node, depth int) []*yaml.Node {
	own := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !isMerge(k) && k.Kind == yaml.ScalarNode {
			own[k.Value] = true
		}
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !isMerge(k) {
			out = append(out, x.expand(k, depth+1), x.expand(v, depth+1))
			continue
		}
		var sources []*yaml.Node
		switch m := resolveAlias(v); {
		case m.Kind == yaml.MappingNode:
			sources = []*yaml.Node{v}
		case m.Kind == yaml.SequenceNode:
			sources = m.Content
		default:
			x.fail(v, "the merge key << wants a mapping or a list of mappings, such as *base or [*a, *b]")
			return out
		}
		for _, s := range sources {
			m := x.expand(s, depth+1)
			if x.err != nil {
				return out
			}
			if m.Kind != yaml.MappingNode {
				x.fail(s, "the merge key << wants a mapping or a list of mappings, such as *base or [*a, *b]")
				return out
			}
			for j := 0; j+1 < len(m.Content); j += 2 {
				mk := m.Content[j]
				if own[mk.Value] {
					continue
				}
				own[mk.Value] = true
				out = append(out, mk, m.Content[j+1])
			}
		}
	}
	return out
}

func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < maxDepth; i++ {
		n = n.Alias
	}
	return n
}

// lineCol returns the 1-based line and column of byte offset off in data.
func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	return line, col
}
