package rules

import (
	"regexp/syntax"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// textPrefix is what a message's text must start with for a rule's
// condition to hold. Command-style rules test the text first against a
// regular expression anchored at its start (`message.text matches
// "(?i)^vpn\\b"`); a text that does not start with the expression's
// literal cannot match it, and the rule is passed over without running
// its program. Of fifty such rules a message runs one.
type textPrefix struct {
	lit  string // ASCII only
	fold bool   // compared without case, as (?i) does
}

// admits tells whether text may satisfy the condition: false only when
// the condition is certainly false.
func (p *textPrefix) admits(text string) bool {
	if len(text) < len(p.lit) {
		// A rune a literal ASCII letter folds to (K: U+212A) is longer
		// than the letter, never shorter.
		return false
	}
	for i := 0; i < len(p.lit); i++ {
		c, want := text[i], p.lit[i]
		switch {
		case c >= utf8.RuneSelf:
			// It may fold to the letter: let the expression decide.
			return true
		case p.fold:
			if lowerASCII(c) != lowerASCII(want) {
				return false
			}
		case c != want:
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// prefixOf returns the text prefix of a condition whose first test (the
// condition itself, or the leftmost operand of its ands, which `and`
// evaluates first and stops at when false) is message.text matched
// against a constant regular expression anchored at the start of the
// text and beginning with a literal; nil for any other condition.
func prefixOf(src string) *textPrefix {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil
	}
	n := tree.Node
	for {
		b, ok := n.(*ast.BinaryNode)
		if !ok {
			return nil
		}
		switch b.Operator {
		case "and", "&&":
			n = b.Left
			continue
		case "matches":
			pat, ok := b.Right.(*ast.StringNode)
			if !ok || !isMessageText(b.Left) {
				return nil
			}
			return regexpPrefix(pat.Value)
		default:
			return nil
		}
	}
}

// isMessageText tells whether n reads message.text.
func isMessageText(n ast.Node) bool {
	m, ok := n.(*ast.MemberNode)
	if !ok || m.Optional || m.Method {
		return false
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	prop, pok := m.Property.(*ast.StringNode)
	return ok && pok && id.Value == "message" && prop.Value == "text"
}

// regexpPrefix returns the ASCII literal a match of pattern (Go syntax,
// as expr compiles it) must start the text with, or nil.
func regexpPrefix(pattern string) *textPrefix {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 || re.Sub[0].Op != syntax.OpBeginText {
		return nil
	}
	lit := re.Sub[1]
	if lit.Op != syntax.OpLiteral {
		return nil
	}
	p := &textPrefix{fold: lit.Flags&syntax.FoldCase != 0}
	buf := make([]byte, 0, len(lit.Rune))
	for _, r := range lit.Rune {
		if r >= utf8.RuneSelf {
			break
		}
		buf = append(buf, byte(r))
	}
	if len(buf) == 0 {
		return nil
	}
	p.lit = string(buf)
	return p
}
