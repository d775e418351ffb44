package rules

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"

	"github.com/ucwabot/ucwabot/bot/event"
)

// Input is what a Set evaluates: one event with the conversation's state.
type Input struct {
	Event *event.Event
	// State is the conversation's persisted state; nil reads as empty.
	State map[string]any
	// Presence returns the last known presence of a subscribed contact;
	// nil when the bot has none.
	Presence func(uri string) (event.Presence, bool)
	Bot      Bot
	// Person is the state kept for the event's participant across
	// conversations (person.state); nil reads as empty. The engine loads it
	// only for a Set that UsesPerson.
	Person map[string]any
	// KV reads the bot-wide key/value space (kv("name")); nil reads every
	// name as missing.
	KV func(name string) (any, bool)
	// Now is the evaluation time; zero means time.Now(). It is shown to
	// expressions in the Set's time zone.
	Now time.Time
}

// Person is the event's participant as expressions see it under person:
// the URI and the state kept for them across conversations.
type Person struct {
	URI   string         `expr:"uri"`
	State map[string]any `expr:"state"`
}

// Bot describes the bot account to expressions.
type Bot struct {
	Account string `expr:"account"` // sip:helpdesk@contoso.com
	Name    string `expr:"name"`
}

// Env is the environment every expression is compiled against and
// evaluated in. Its expr tags are the names expressions use; see
// docs/rules.md.
type Env struct {
	Event        EventView          `expr:"event"`
	Participant  event.Participant  `expr:"participant"`
	Conversation event.Conversation `expr:"conversation"`
	Message      event.Message      `expr:"message"`
	Timer        event.Timer        `expr:"timer"`
	State        map[string]any     `expr:"state"`
	Person       Person             `expr:"person"`
	Bot          Bot                `expr:"bot"`
	Now          time.Time          `expr:"now"`
	Vars         map[string]any     `expr:"vars"`

	Presence  func(uri string) event.Presence `expr:"presence"`
	Available func(uri string) bool           `expr:"available"`
	Between   func(from, to string) bool      `expr:"between"`
	Weekday   func() string                   `expr:"weekday"`
	Weekend   func() bool                     `expr:"weekend"`
	KV        func(name string) any           `expr:"kv"`

	// The pure helpers. They are typed fields rather than expr.Function so
	// that the VM calls them directly, without an argument slice.
	IContains func(s, substr string) bool `expr:"icontains"`
	IPrefix   func(s, prefix string) bool `expr:"iprefix"`
	ISuffix   func(s, suffix string) bool `expr:"isuffix"`
	IEquals   func(a, b string) bool      `expr:"iequals"`
	Domain    func(uri string) string     `expr:"domain"`
	User      func(uri string) string     `expr:"user"`
	// Get is the map read that `state.step` compiles to (mapGetPatch).
	Get func(m, key any) any `expr:"$get"`
	// Boxed is the read of a string field that boxedPatch compiles to.
	Boxed func(i any) any `expr:"$boxed"`

	in  *Input
	box [numStringFields]any
}

// newEnv returns an Env whose helper functions read its own fields, so one
// Env can be reused for many evaluations without allocating closures.
func newEnv(vars map[string]any) *Env {
	e := &Env{Vars: vars}
	e.Presence = func(uri string) event.Presence {
		if e.in != nil && e.in.Presence != nil {
			if p, ok := e.in.Presence(uri); ok {
				return p
			}
		}
		return event.Presence{URI: uri}
	}
	e.Available = func(uri string) bool { return e.Presence(uri).Available() }
	e.KV = func(name string) any {
		if e.in == nil || e.in.KV == nil {
			return nil
		}
		v, _ := e.in.KV(name)
		return v
	}
	e.Between = func(from, to string) bool {
		// Constant clock strings were checked at load time (clockCheck);
		// others that do not parse make the range empty.
		f, _ := parseClock(from)
		t, _ := parseClock(to)
		return clockBetween(e.Now, f, t)
	}
	e.Weekday = func() string { return e.Now.Weekday().String() }
	e.Weekend = func() bool {
		d := e.Now.Weekday()
		return d == time.Saturday || d == time.Sunday
	}
	e.IContains, e.IPrefix, e.ISuffix, e.IEquals = containsFold, hasPrefixFold, hasSuffixFold, strings.EqualFold
	e.Domain = func(uri string) string { _, d := splitURI(uri); return d }
	e.User = func(uri string) string { u, _ := splitURI(uri); return u }
	e.Get = mapGet
	e.Boxed = e.boxed
	return e
}

// EventView is the event as expressions see it: event.Event with its kind
// as a plain string, so `event.kind == "message.received"` compiles.
type EventView struct {
	ID           string             `expr:"id"`
	Kind         string             `expr:"kind"`
	Account      string             `expr:"account"`
	Time         time.Time          `expr:"time"`
	Conversation event.Conversation `expr:"conversation"`
	Participant  event.Participant  `expr:"participant"`
	Message      event.Message      `expr:"message"`
	Presence     event.Presence     `expr:"presence"`
	Timer        event.Timer        `expr:"timer"`
}

var noEvent = new(event.Event)

// bind points the Env at in.
func (e *Env) bind(in *Input, loc *time.Location) {
	e.in = in
	ev := in.Event
	if ev == nil {
		ev = noEvent
	}
	e.Event = EventView{
		ID: ev.ID, Kind: string(ev.Kind), Account: ev.Account, Time: ev.Time,
		Conversation: ev.Conversation, Participant: ev.Participant, Message: ev.Message, Presence: ev.Presence, Timer: ev.Timer,
	}
	e.Participant = ev.Participant
	e.Conversation = ev.Conversation
	e.Message = ev.Message
	e.Timer = ev.Timer
	e.State = in.State
	e.Person = Person{URI: ev.Participant.URI, State: in.Person}
	e.Bot = in.Bot
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	e.Now = now.In(loc)
	e.box = [numStringFields]any{}
}

// unbind drops the references to the last input, so a pooled Env keeps no
// event alive.
func (e *Env) unbind() {
	e.in, e.Event, e.State, e.Person = nil, EventView{}, nil, Person{}
	e.box = [numStringFields]any{}
	e.Participant, e.Conversation, e.Message, e.Timer = event.Participant{}, event.Conversation{}, event.Message{}, event.Timer{}
}

// parseClock parses "HH:MM" into minutes after midnight.
func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a time of day (want HH:MM, 00:00 to 23:59)", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// clockBetween reports whether now's time of day is in [from, to); a range
// whose end is before its start runs over midnight.
func clockBetween(now time.Time, from, to int) bool {
	m := now.Hour()*60 + now.Minute()
	if from <= to {
		return m >= from && m < to
	}
	return m >= from || m < to
}

// functions are the compile options every expression gets beyond its Env.
var functions = []expr.Option{
	expr.Patch(mapGetPatch{}),
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// mapGet reads key from a map[string]any; nil for a missing key, a nil
// map or anything else.
func mapGet(m, key any) any {
	mm, _ := m.(map[string]any)
	k, _ := key.(string)
	return mm[k]
}

// mapGetName is the Env function mapGetPatch calls. The $ keeps it apart
// from the names expressions write; called directly it is the same map read.
const mapGetName = "$get"

var (
	anyMapType = reflect.TypeOf(map[string]any(nil))
	mapGetType = reflect.TypeOf((func(m, key any) any)(nil))
)

// mapGetPatch turns the member access m.key on a map[string]any (state.step,
// vars.helpdesk) into a direct map lookup. The result is the same (nil for
// a missing key or a nil map); the VM's generic fetch goes through
// reflection and allocates on every access.
type mapGetPatch struct{}

func (mapGetPatch) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || m.Method || m.Node.Type() != anyMapType {
		return
	}
	key, ok := m.Property.(*ast.StringNode)
	if !ok {
		return
	}
	ast.Patch(node, envCall(mapGetName, mapGetType, m.Node, &ast.StringNode{Value: key.Value}))
}

// containsFold is strings.Contains of the lower-cased strings, without
// allocating when both are ASCII.
func containsFold(s, sub string) bool {
	if !isASCII(s) || !isASCII(sub) {
		return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
	}
	n := len(sub)
	if n == 0 {
		return true
	}
	for i := 0; i+n <= len(s); i++ {
		if asciiEqualFold(s[i:i+n], sub) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiEqualFold compares two ASCII strings of the same length without
// regard to case.
func asciiEqualFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// splitURI splits sip:alice@Contoso.com into "alice" and "contoso.com".
func splitURI(uri string) (user, domain string) {
	s := uri
	if i := strings.IndexByte(s, ':'); i >= 0 && !strings.Contains(s[:i], "@") {
		s = s[i+1:]
	}
	if i := strings.IndexAny(s, ";?>"); i >= 0 {
		s = s[:i]
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s, ""
	}
	return s[:at], strings.ToLower(s[at+1:])
}

var errNotBool = errors.New("the condition did not return a bool")
