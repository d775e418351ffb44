package rules

import (
	"fmt"
	"strings"
)

// Error is one problem in a rules file, with its position.
type Error struct {
	File string // file name as given to Load
	Line int    // 1-based; 0 when unknown
	Col  int    // 1-based; 0 when unknown
	Rule string // the rule's name, when the problem is inside a rule
	// Field is the key or path inside the rule or file ("when", "do[1] reply").
	Field string
	Msg   string
}

// Error formats the problem as FILE:LINE:COL: rule "NAME": FIELD: MESSAGE.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", e.Rule)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found by one load, in file order.
type Errors []*Error

// Error lists the problems, one per line.
func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Unwrap exposes each problem to errors.As and errors.Is.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
