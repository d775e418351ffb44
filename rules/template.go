package rules

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"text/template/parse"
	"unicode/utf8"

	"github.com/ucwabot/ucwabot/internal/spelling"

	"go.yaml.in/yaml/v3"
)

// Templated is implemented by handler instances that render Go templates
// (text/template or html/template): Templates returns the sources of the
// templates and a value of the type they are executed with. The loader
// checks every field a template names against that type, so that
// {{.Participant.Nmae}} is a load error at its place in the rules file
// rather than a failure when the event comes.
type Templated interface {
	Templates() (sources []string, data any)
}

// templateProblem is one field a template names that its data lacks.
type templateProblem struct {
	text string // the template node as written, such as .Participant.Nmae
	msg  string
}

// CheckTemplate reports every field or method that the template src names
// and that the type of data does not have, following the dot through
// with, range and variables as text/template evaluates them. Fields read
// from interface values and function results are not checked. A template
// that does not parse yields its parse error.
func CheckTemplate(src string, data any) []error {
	probs, err := checkTemplate(src, reflect.TypeOf(data))
	if err != nil {
		return []error{err}
	}
	out := make([]error, len(probs))
	for i, p := range probs {
		out[i] = fmt.Errorf("{{%s}}: %s", p.text, p.msg)
	}
	return out
}

func checkTemplate(src string, data reflect.Type) ([]templateProblem, error) {
	t := parse.New("template")
	t.Mode = parse.SkipFuncCheck
	trees := map[string]*parse.Tree{}
	if _, err := t.Parse(src, "", "", trees); err != nil {
		return nil, err
	}
	c := &tmplChecker{root: data}
	for _, tr := range trees {
		if tr.Root != nil {
			c.list(tr.Root, data)
		}
	}
	sort.SliceStable(c.probs, func(i, j int) bool { return c.probs[i].pos < c.probs[j].pos })
	out := make([]templateProblem, len(c.probs))
	for i, p := range c.probs {
		out[i] = p.templateProblem
	}
	return out, nil
}

type tmplVar struct {
	name string
	typ  reflect.Type // nil: not known
}

type tmplChecker struct {
	root  reflect.Type
	vars  []tmplVar
	probs []struct {
		templateProblem
		pos parse.Pos
	}
}

func (c *tmplChecker) list(l *parse.ListNode, dot reflect.Type) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		c.node(n, dot)
	}
}

func (c *tmplChecker) node(n parse.Node, dot reflect.Type) {
	switch n := n.(type) {
	case *parse.ActionNode:
		c.pipe(n.Pipe, dot, false)
	case *parse.IfNode:
		c.branch(&n.BranchNode, dot, dot, false)
	case *parse.WithNode:
		mark := len(c.vars)
		t := c.pipe(n.Pipe, dot, false)
		c.list(n.List, t)
		c.list(n.ElseList, dot)
		c.vars = c.vars[:mark]
	case *parse.RangeNode:
		mark := len(c.vars)
		t := c.pipe(n.Pipe, dot, true)
		c.list(n.List, elemType(t))
		c.list(n.ElseList, dot)
		c.vars = c.vars[:mark]
	case *parse.ListNode:
		c.list(n, dot)
	case *parse.TemplateNode:
		if n.Pipe != nil {
			c.pipe(n.Pipe, dot, false)
		}
	}
}

func (c *tmplChecker) branch(b *parse.BranchNode, dot, body reflect.Type, isRange bool) {
	mark := len(c.vars)
	c.pipe(b.Pipe, dot, isRange)
	c.list(b.List, body)
	c.list(b.ElseList, dot)
	c.vars = c.vars[:mark]
}

// pipe checks a pipeline and returns the type of its result (nil when not
// known), declaring its variables.
func (c *tmplChecker) pipe(p *parse.PipeNode, dot reflect.Type, isRange bool) reflect.Type {
	if p == nil {
		return nil
	}
	var t reflect.Type
	for _, cmd := range p.Cmds {
		t = c.command(cmd, dot)
	}
	for i, d := range p.Decl {
		vt := t
		if isRange {
			vt = nil
			switch {
			case len(p.Decl) == 1:
				vt = elemType(t)
			case i == 1:
				vt = elemType(t)
			}
		}
		if len(d.Ident) > 0 {
			if p.IsAssign {
				c.assign(d.Ident[0], vt)
			} else {
				c.vars = append(c.vars, tmplVar{d.Ident[0], vt})
			}
		}
	}
	return t
}

func (c *tmplChecker) assign(name string, t reflect.Type) {
	for i := len(c.vars) - 1; i >= 0; i-- {
		if c.vars[i].name == name {
			if c.vars[i].typ != t {
				c.vars[i].typ = nil
			}
			return
		}
	}
}

func (c *tmplChecker) command(cmd *parse.CommandNode, dot reflect.Type) reflect.Type {
	if len(cmd.Args) == 0 {
		return nil
	}
	for _, a := range cmd.Args[1:] {
		c.arg(a, dot)
	}
	return c.arg(cmd.Args[0], dot)
}

func (c *tmplChecker) arg(n parse.Node, dot reflect.Type) reflect.Type {
	switch n := n.(type) {
	case *parse.DotNode:
		return dot
	case *parse.FieldNode:
		return c.fields(n, dot, n.Ident)
	case *parse.VariableNode:
		if len(n.Ident) == 0 {
			return nil
		}
		return c.fields(n, c.variable(n.Ident[0]), n.Ident[1:])
	case *parse.ChainNode:
		return c.fields(n, c.arg(n.Node, dot), n.Field)
	case *parse.PipeNode:
		return c.pipe(n, dot, false)
	}
	return nil // a function, a constant, nil
}

func (c *tmplChecker) variable(name string) reflect.Type {
	if name == "$" {
		return c.root
	}
	for i := len(c.vars) - 1; i >= 0; i-- {
		if c.vars[i].name == name {
			return c.vars[i].typ
		}
	}
	return nil
}

// fields follows names from t, recording the first that t lacks.
func (c *tmplChecker) fields(n parse.Node, t reflect.Type, names []string) reflect.Type {
	for _, name := range names {
		if t == nil {
			return nil
		}
		next, ok := fieldType(t, name)
		if !ok {
			c.probs = append(c.probs, struct {
				templateProblem
				pos parse.Pos
			}{templateProblem{n.String(), fmt.Sprintf("%s has no field or method %s%s", typeName(t), name, knownFields(t, name))}, n.Position()})
			return nil
		}
		t = next
	}
	return t
}

// fieldType is the type of .name on a value of type t as text/template
// evaluates it: a method of t or *t, a map entry, or a struct field,
// promoted ones included. ok is false when t has no such field; the type
// is nil when it is not known (an interface, a function's result).
func fieldType(t reflect.Type, name string) (reflect.Type, bool) {
	base := t
	for base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	if base.Kind() == reflect.Interface {
		return nil, true
	}
	if m, ok := reflect.PointerTo(base).MethodByName(name); ok {
		if m.Type.NumOut() > 0 {
			return m.Type.Out(0), true
		}
		return nil, true
	}
	switch base.Kind() {
	case reflect.Map:
		if base.Key().Kind() == reflect.String {
			return base.Elem(), true
		}
		return nil, true
	case reflect.Struct:
		if f, ok := base.FieldByName(name); ok && f.IsExported() {
			return f.Type, true
		}
	}
	return nil, false
}

// elemType is the type of the dot inside {{range}} over a value of type t.
func elemType(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map, reflect.Chan:
		return t.Elem()
	}
	return nil
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.String()
}

// knownFields lists the fields of a struct type for a message, the
// closest to name first when one is close.
func knownFields(t reflect.Type, name string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	var names []string
	for _, f := range reflect.VisibleFields(t) {
		if f.IsExported() && !f.Anonymous {
			names = append(names, f.Name)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	s := " (known: " + strings.Join(names, ", ") + ")"
	if best := closest(name, names); best != "" {
		s = fmt.Sprintf(" (did you mean %s? known: %s)", best, strings.Join(names, ", "))
	}
	return s
}

// closest returns the name within edit distance 2 of s, if any.
func closest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := spelling.Distance(strings.ToLower(s), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// checkTemplates checks the templates of a step's instance, reporting each
// problem where the template names the field.
func (l *loader) checkTemplates(r *Rule, list string, i int, st *Step, tp Templated) {
	srcs, data := tp.Templates()
	if data == nil {
		return
	}
	for _, src := range srcs {
		probs, err := checkTemplate(src, reflect.TypeOf(data))
		if err != nil {
			continue // the plugin reports templates that do not parse
		}
		for _, p := range probs {
			e := &Error{File: st.File, Line: st.Line, Col: st.Col, Rule: r.Name, Field: fmt.Sprintf("%s[%d] %s", list, i, st.Plugin),
				Msg: fmt.Sprintf("template {{%s}}: %s", p.text, p.msg)}
			if n := findScalar(st.Params, src); n != nil {
				e.Line, e.Col = n.Line, n.Column
				if line, col, ok := l.find(st.File, n, p.text, len(src)); ok {
					e.Line, e.Col = line, col
				}
			}
			l.errs = append(l.errs, e)
		}
	}
}

// findScalar returns the first scalar under n whose value is v.
func findScalar(n *yaml.Node, v string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Value == v {
		return n
	}
	for _, c := range n.Content {
		if f := findScalar(c, v); f != nil {
			return f
		}
	}
	return nil
}

// find returns the position of the first needle written in the file at or
// after the scalar n, within a window the size of the scalar's value.
func (l *loader) find(file string, n *yaml.Node, needle string, size int) (int, int, bool) {
	src := l.src[file]
	start := offsetOf(src, n.Line, n.Column)
	if start < 0 {
		return 0, 0, false
	}
	end := min(len(src), start+2*size+len(needle)+256)
	i := bytes.Index(src[start:end], []byte(needle))
	if i < 0 {
		return 0, 0, false
	}
	line, col := lineCol(src, start+i)
	return line, col, true
}

// offsetOf returns the byte offset of a 1-based line and column (in runes)
// of src, or -1.
func offsetOf(src []byte, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(src[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	for c := 1; c < col && off < len(src); c++ {
		_, size := utf8.DecodeRune(src[off:])
		off += size
	}
	return off
}
