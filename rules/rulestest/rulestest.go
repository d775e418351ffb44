// Package rulestest runs rule test cases: events, with the conversation's
// state and the contacts' presence, fed to a rule set with no server, and
// assertions about which rules fire, which handler calls result and how an
// invitation is answered. `bot rules test` runs it; docs/rules.md
// documents the cases file.
package rulestest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/plugins"
	"github.com/ucwabot/ucwabot/rules"
)

// File is a cases file.
type File struct {
	Cases []Case `yaml:"cases"`
}

// Case is one event and what the rules should do with it, or a
// conversation: several events in Steps, each with its own expectations,
// the conversation's state carried from one to the next.
type Case struct {
	Name     string            `yaml:"name"`
	Event    Event             `yaml:"event"`
	Steps    []Step            `yaml:"steps"`
	State    map[string]any    `yaml:"state"`
	Presence map[string]string `yaml:"presence"` // SIP URI → availability
	Now      string            `yaml:"now"`      // RFC 3339; empty means the time of the run
	Bot      string            `yaml:"bot"`      // the bot's SIP URI; default sip:bot@example.com
	Expect   Expect            `yaml:"expect"`

	Line int `yaml:"-"` // where the case starts in its file
}

// Step is one event of a conversation case.
type Step struct {
	Event Event `yaml:"event"`
	// Now is the time of this event; empty means the case's now.
	Now    string `yaml:"now"`
	Expect Expect `yaml:"expect"`

	Line int `yaml:"-"` // where the step starts in its file
}

// Event is the event of a case.
type Event struct {
	ID           string       `yaml:"id"`
	Kind         string       `yaml:"kind"`
	Participant  Participant  `yaml:"participant"`
	Conversation Conversation `yaml:"conversation"`
	Message      Message      `yaml:"message"`
	Presence     Presence     `yaml:"presence"`
	// Timer names the timer of a timer.fired event, or the rule of a
	// schedule.fired one.
	Timer Timer `yaml:"timer"`
}

// Timer is event.Timer in a cases file.
type Timer struct {
	Name string `yaml:"name"`
}

// Participant is event.Participant in a cases file.
type Participant struct {
	URI   string `yaml:"uri"`
	Name  string `yaml:"name"`
	Local bool   `yaml:"local"`
}

// Conversation is event.Conversation in a cases file.
type Conversation struct {
	ID        string `yaml:"id"`
	Subject   string `yaml:"subject"`
	ThreadID  string `yaml:"thread_id"`
	Direction string `yaml:"direction"`
}

// Message is event.Message in a cases file.
type Message struct {
	Text      string `yaml:"text"`
	HTML      string `yaml:"html"`
	Direction string `yaml:"direction"`
	Reason    string `yaml:"reason"`
}

// Presence is event.Presence in a cases file.
type Presence struct {
	URI          string `yaml:"uri"`
	Availability string `yaml:"availability"`
	Activity     string `yaml:"activity"`
}

// Expect is what a case or step asserts. A nil list is not checked; an
// empty one asserts that nothing happens. Replies, Actions and State are
// about what the handlers do: a case that asserts any of them runs the
// handlers of the rules that fire against a recording responder.
type Expect struct {
	Rules      *[]string `yaml:"rules"`
	Calls      *[]string `yaml:"calls"`
	Invitation string    `yaml:"invitation"` // accept | decline
	// Replies are the texts the handlers send, in order (plain or HTML).
	Replies *[]string `yaml:"replies"`
	// Actions are everything the handlers do through the responder, in
	// order: "say: TEXT", "html: HTML", "typing", "leave", "accept",
	// "decline", "invite: URI", "subscribe: URI", "start: URI: TEXT".
	Actions *[]string `yaml:"actions"`
	// State holds fields of the conversation's state after the event and
	// their values; a field given as null must not be set.
	State map[string]any `yaml:"state"`
}

func (e *Expect) empty() bool {
	return e.Rules == nil && e.Calls == nil && e.Invitation == "" && !e.runs()
}

// runs reports whether the expectation is about the handlers' effects.
func (e *Expect) runs() bool { return e.Replies != nil || e.Actions != nil || e.State != nil }

// Result is the outcome of one case.
type Result struct {
	Case     string
	File     string
	Line     int
	Rules    []string // the rules that fired
	Calls    []string // the handler calls that result
	Failures []string // empty when the case passed
}

// Passed reports whether every assertion held.
func (r Result) Passed() bool { return len(r.Failures) == 0 }

// Report is the outcome of a cases file.
type Report struct {
	Results []Result
}

// Total is the number of cases run.
func (r *Report) Total() int { return len(r.Results) }

// Failed is the number of cases that failed.
func (r *Report) Failed() int {
	n := 0
	for _, res := range r.Results {
		if !res.Passed() {
			n++
		}
	}
	return n
}

// String lists every case, with the reasons of failures, and a summary.
func (r *Report) String() string {
	var b strings.Builder
	for _, res := range r.Results {
		if res.Passed() {
			fmt.Fprintf(&b, "ok   %s\n", res.Case)
			continue
		}
		fmt.Fprintf(&b, "FAIL %s (%s:%d)\n", res.Case, res.File, res.Line)
		for _, f := range res.Failures {
			fmt.Fprintf(&b, "     %s\n", f)
		}
	}
	fmt.Fprintf(&b, "%d cases, %d passed, %d failed\n", r.Total(), r.Total()-r.Failed(), r.Failed())
	return b.String()
}

// RunFile loads the rules at rulePaths and runs the cases file on them.
func RunFile(opts rules.Options, rulePaths []string, casesPath string) (*Report, error) {
	set, err := rules.Load(opts, rulePaths...)
	if err != nil {
		return nil, err
	}
	defer set.Close()
	f, err := ReadFile(casesPath)
	if err != nil {
		return nil, err
	}
	return Run(set, casesPath, f.Cases)
}

// ReadFile reads a cases file strictly: unknown keys are errors with their
// line.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse reads cases from data; name is used in errors.
func Parse(name string, data []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, positioned(name, err)
	}
	var lines struct {
		Cases []yaml.Node `yaml:"cases"`
	}
	if err := yaml.Unmarshal(data, &lines); err == nil {
		for i := range f.Cases {
			if i < len(lines.Cases) {
				f.Cases[i].Line = lines.Cases[i].Line
				stepLines(&f.Cases[i], &lines.Cases[i])
			}
		}
	}
	if len(f.Cases) == 0 {
		return nil, fmt.Errorf("%s: no cases (want a top-level `cases:` list)", name)
	}
	for i, c := range f.Cases {
		if c.Name == "" {
			return nil, fmt.Errorf("%s:%d: case %d: name is required", name, c.Line, i+1)
		}
		if err := checkCase(c); err != nil {
			return nil, fmt.Errorf("%s:%d: case %q: %w", name, err.line(c.Line), c.Name, err)
		}
	}
	return &f, nil
}

// stepLines sets the lines of a case's steps from its node.
func stepLines(c *Case, n *yaml.Node) {
	steps := mappingValue(deref(n), "steps")
	if steps == nil {
		return
	}
	for j, s := range deref(steps).Content {
		if j < len(c.Steps) {
			c.Steps[j].Line = s.Line
		}
	}
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// mappingValue returns the value of key in the mapping n, looking into
// the mappings merged with << when n does not set key itself; nil when
// neither does.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	return mappingValueDepth(n, key, 0)
}

func mappingValueDepth(n *yaml.Node, key string, depth int) *yaml.Node {
	if n.Kind != yaml.MappingNode || depth > 10 {
		return nil
	}
	var merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		switch {
		case k.Value == key && k.Tag != "!!merge":
			return v
		case k.Tag == "!!merge" && v.Kind == yaml.SequenceNode:
			for _, m := range v.Content {
				merged = append(merged, deref(m))
			}
		case k.Tag == "!!merge":
			merged = append(merged, v)
		}
	}
	for _, m := range merged {
		if v := mappingValueDepth(m, key, depth+1); v != nil {
			return v
		}
	}
	return nil
}

// caseError is a problem of a case, at the line of one of its steps when
// it is in one.
type caseError struct {
	at  int // the step's line, or 0
	msg string
}

func (e *caseError) Error() string { return e.msg }

func (e *caseError) line(caseLine int) int {
	if e.at > 0 {
		return e.at
	}
	return caseLine
}

func checkCase(c Case) *caseError {
	if err := checkNow("now", c.Now); err != "" {
		return &caseError{msg: err}
	}
	if len(c.Steps) == 0 {
		if _, err := event.ParseKind(c.Event.Kind); err != nil {
			return &caseError{msg: fmt.Sprintf("event.kind: %v", err)}
		}
		return checkExpect("expect", c.Expect)
	}
	if c.Event.Kind != "" || !c.Expect.empty() {
		return &caseError{msg: "give either event and expect, or steps (each with its event and expect), not both"}
	}
	for i, s := range c.Steps {
		prefix := fmt.Sprintf("steps[%d]", i)
		if _, err := event.ParseKind(s.Event.Kind); err != nil {
			return &caseError{s.Line, fmt.Sprintf("%s: event.kind: %v", prefix, err)}
		}
		if err := checkNow(prefix+".now", s.Now); err != "" {
			return &caseError{s.Line, err}
		}
		if err := checkExpect(prefix+".expect", s.Expect); err != nil {
			err.at = s.Line
			return err
		}
	}
	return nil
}

func checkNow(key, now string) string {
	if now == "" {
		return ""
	}
	if _, err := time.Parse(time.RFC3339, now); err != nil {
		return fmt.Sprintf("%s: want RFC 3339 (2026-03-02T10:00:00+01:00), got %q", key, now)
	}
	return ""
}

func checkExpect(key string, e Expect) *caseError {
	if e.empty() {
		return &caseError{msg: key + ": want rules, calls, invitation, replies, actions or state (a case must assert something)"}
	}
	switch e.Invitation {
	case "", "accept", "decline":
	default:
		return &caseError{msg: fmt.Sprintf("%s.invitation: want accept or decline, got %q", key, e.Invitation)}
	}
	return nil
}

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// positioned rewrites a YAML error of a cases file as one FILE:LINE:
// message per problem, unknown keys named with the keys a case accepts.
func positioned(name string, err error) error {
	msgs := plugins.YAMLMessages(err, &File{})
	if msgs == nil {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	lines := make([]string, len(msgs))
	for i, msg := range msgs {
		// A message that quotes a multi-line value stays one line.
		msg = strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(msg)
		lines[i] = name + ": " + msg
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			lines[i] = fmt.Sprintf("%s:%s: %s", name, m[1], m[2])
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}

func list(xs []string) string { return "[" + strings.Join(xs, ", ") + "]" }

func (e Event) toEvent(bot string, now time.Time, i, step int) *event.Event {
	id := e.ID
	if id == "" {
		id = fmt.Sprintf("case-%d", i+1)
		if step > 0 {
			id = fmt.Sprintf("case-%d-%d", i+1, step+1)
		}
	}
	conv := e.Conversation.ID
	if conv == "" {
		conv = "conversation-1"
	}
	return &event.Event{
		ID:      id,
		Kind:    event.Kind(e.Kind),
		Account: bot,
		Time:    now,
		Conversation: event.Conversation{
			ID: conv, Subject: e.Conversation.Subject, ThreadID: e.Conversation.ThreadID, Direction: e.Conversation.Direction,
		},
		Participant: event.Participant(e.Participant),
		Message:     event.Message(e.Message),
		Presence:    event.Presence{URI: e.Presence.URI, Availability: e.Presence.Availability, Activity: e.Presence.Activity},
		Timer:       event.Timer{Name: e.Timer.Name},
	}
}

// memMarker keeps cooldown marks in memory, by the cases' clock.
type memMarker struct {
	now   time.Time
	marks map[string]time.Time // key → expiry
}

func (m *memMarker) Mark(_ context.Context, key string, ttl time.Duration) (bool, error) {
	if exp, ok := m.marks[key]; ok && m.now.Before(exp) {
		return false, nil
	}
	m.marks[key] = m.now.Add(ttl)
	return true, nil
}
