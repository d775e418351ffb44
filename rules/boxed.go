package rules

import (
	"reflect"

	"github.com/expr-lang/expr/ast"
)

var boxedType = reflect.TypeOf((func(any) any)(nil))

// The expr VM keeps values as interfaces, so each read of a string field
// of the environment (message.text, participant.uri) boxes the string
// anew: one allocation per read. boxedPatch rewrites those reads into
// calls of Env.Boxed with the field's index; Boxed boxes each field at most
// once per event and hands out the same interface value after that.
//
// The rewrite changes the static type of the read from string to any, so
// expressions are first compiled without it: type errors are still
// reported at load time.

// stringFields lists the string fields expressions read, by path; the
// position in the list is the index Boxed takes.
var stringFields = [numStringFields]struct {
	path string
	get  func(*Env) string
}{
	{"event.id", func(e *Env) string { return e.Event.ID }},
	{"event.kind", func(e *Env) string { return e.Event.Kind }},
	{"event.account", func(e *Env) string { return e.Event.Account }},
	{"event.conversation.id", func(e *Env) string { return e.Conversation.ID }},
	{"event.conversation.subject", func(e *Env) string { return e.Conversation.Subject }},
	{"event.conversation.thread_id", func(e *Env) string { return e.Conversation.ThreadID }},
	{"event.conversation.direction", func(e *Env) string { return e.Conversation.Direction }},
	{"event.participant.uri", func(e *Env) string { return e.Participant.URI }},
	{"event.participant.name", func(e *Env) string { return e.Participant.Name }},
	{"event.message.text", func(e *Env) string { return e.Message.Text }},
	{"event.message.html", func(e *Env) string { return e.Message.HTML }},
	{"event.message.direction", func(e *Env) string { return e.Message.Direction }},
	{"event.message.reason", func(e *Env) string { return e.Message.Reason }},
	{"event.presence.uri", func(e *Env) string { return e.Event.Presence.URI }},
	{"event.presence.availability", func(e *Env) string { return e.Event.Presence.Availability }},
	{"event.presence.activity", func(e *Env) string { return e.Event.Presence.Activity }},
	{"participant.uri", func(e *Env) string { return e.Participant.URI }},
	{"participant.name", func(e *Env) string { return e.Participant.Name }},
	{"conversation.id", func(e *Env) string { return e.Conversation.ID }},
	{"conversation.subject", func(e *Env) string { return e.Conversation.Subject }},
	{"conversation.thread_id", func(e *Env) string { return e.Conversation.ThreadID }},
	{"conversation.direction", func(e *Env) string { return e.Conversation.Direction }},
	{"message.text", func(e *Env) string { return e.Message.Text }},
	{"message.html", func(e *Env) string { return e.Message.HTML }},
	{"message.direction", func(e *Env) string { return e.Message.Direction }},
	{"message.reason", func(e *Env) string { return e.Message.Reason }},
	{"bot.account", func(e *Env) string { return e.Bot.Account }},
	{"bot.name", func(e *Env) string { return e.Bot.Name }},
}

// numStringFields is the length of stringFields; Env's cache has as many
// slots.
const numStringFields = 28

var stringFieldIndex = func() map[string]int {
	m := make(map[string]int, len(stringFields))
	for i, f := range stringFields {
		if f.get == nil {
			panic("rules: stringFields has fewer entries than numStringFields")
		}
		m[f.path] = i
	}
	return m
}()

// boxedName is the Env function boxedPatch calls.
const boxedName = "$boxed"

// boxed returns field i of the environment as an interface, boxing it on
// its first read since bind.
func (e *Env) boxed(i any) any {
	n := i.(int)
	if v := e.box[n]; v != nil {
		return v
	}
	v := any(stringFields[n].get(e))
	e.box[n] = v
	return v
}

// boxedPatch rewrites reads of the string fields in stringFields.
type boxedPatch struct{}

func (boxedPatch) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || m.Optional || m.Method {
		return
	}
	path, ok := memberPath(m)
	if !ok {
		return
	}
	i, ok := stringFieldIndex[path]
	if !ok {
		return
	}
	ast.Patch(node, envCall(boxedName, boxedType, &ast.IntegerNode{Value: i}))
}

// envCall is a call of the Env function name, of type t, that a patch puts
// in the tree. The checker does not always type a callee it did not parse
// (inside the arguments of another call, it does not); the compiler needs
// the type to call the function directly rather than through reflection.
func envCall(name string, t reflect.Type, args ...ast.Node) *ast.CallNode {
	callee := &ast.IdentifierNode{Value: name}
	callee.SetType(t)
	return &ast.CallNode{Callee: callee, Arguments: args}
}

// memberPath returns "a.b.c" for the member chain a.b.c rooted at an
// identifier of the environment.
func memberPath(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		return n.Value, true
	case *ast.MemberNode:
		prop, ok := n.Property.(*ast.StringNode)
		if !ok || n.Optional {
			return "", false
		}
		base, ok := memberPath(n.Node)
		if !ok {
			return "", false
		}
		return base + "." + prop.Value, true
	}
	return "", false
}
