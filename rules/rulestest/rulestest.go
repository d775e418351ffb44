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
	"slices"
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

// Case is one event and what the rules should do with it.
type Case struct {
	Name     string            `yaml:"name"`
	Event    Event             `yaml:"event"`
	State    map[string]any    `yaml:"state"`
	Presence map[string]string `yaml:"presence"` // SIP URI → availability
	Now      string            `yaml:"now"`      // RFC 3339; empty means the time of the run
	Bot      string            `yaml:"bot"`      // the bot's SIP URI; default sip:bot@example.com
	Expect   Expect            `yaml:"expect"`

	Line int `yaml:"-"` // where the case starts in its file
}

// Event is the event of a case.
type Event struct {
	ID           string       `yaml:"id"`
	Kind         string       `yaml:"kind"`
	Participant  Participant  `yaml:"participant"`
	Conversation Conversation `yaml:"conversation"`
	Message      Message      `yaml:"message"`
	Presence     Presence     `yaml:"presence"`
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

// Expect is what a case asserts. A nil list is not checked; an empty one
// asserts that nothing happens.
type Expect struct {
	Rules      *[]string `yaml:"rules"`
	Calls      *[]string `yaml:"calls"`
	Invitation string    `yaml:"invitation"` // accept | decline
}

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
	var doc struct {
		Cases []yaml.Node `yaml:"cases"`
	}
	if err := yaml.Unmarshal(data, &doc); err == nil {
		for i := range f.Cases {
			if i < len(doc.Cases) {
				f.Cases[i].Line = doc.Cases[i].Line
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
		if _, err := event.ParseKind(c.Event.Kind); err != nil {
			return nil, fmt.Errorf("%s:%d: case %q: event.kind: %v", name, c.Line, c.Name, err)
		}
		if c.Now != "" {
			if _, err := time.Parse(time.RFC3339, c.Now); err != nil {
				return nil, fmt.Errorf("%s:%d: case %q: now: want RFC 3339 (2026-03-02T10:00:00+01:00), got %q", name, c.Line, c.Name, c.Now)
			}
		}
		if c.Expect.Rules == nil && c.Expect.Calls == nil && c.Expect.Invitation == "" {
			return nil, fmt.Errorf("%s:%d: case %q: expect: want rules, calls or invitation (a case must assert something)", name, c.Line, c.Name)
		}
		switch c.Expect.Invitation {
		case "", "accept", "decline":
		default:
			return nil, fmt.Errorf("%s:%d: case %q: expect.invitation: want accept or decline, got %q", name, c.Line, c.Name, c.Expect.Invitation)
		}
	}
	return &f, nil
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
		lines[i] = name + ": " + msg
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			lines[i] = fmt.Sprintf("%s:%s: %s", name, m[1], m[2])
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}

// Run runs cases on set, in order. Cooldown marks are kept in memory
// across the cases, so a later case sees the marks of earlier ones; each
// mark expires by the cases' own clock.
func Run(set *rules.Set, file string, cases []Case) (*Report, error) {
	m := &memMarker{marks: map[string]time.Time{}}
	rep := &Report{}
	for i, c := range cases {
		rep.Results = append(rep.Results, runCase(set, m, file, i, c))
	}
	return rep, nil
}

func runCase(set *rules.Set, m *memMarker, file string, i int, c Case) Result {
	res := Result{Case: c.Name, File: file, Line: c.Line}
	now := time.Now()
	if c.Now != "" {
		now, _ = time.Parse(time.RFC3339, c.Now)
	}
	m.now = now
	bot := c.Bot
	if bot == "" {
		bot = "sip:bot@example.com"
	}
	ev := c.Event.toEvent(bot, now, i)
	in := &rules.Input{
		Event: ev,
		State: c.State,
		Presence: func(uri string) (event.Presence, bool) {
			for u, a := range c.Presence {
				if strings.EqualFold(u, uri) {
					return event.Presence{URI: u, Availability: a}, true
				}
			}
			return event.Presence{}, false
		},
		Bot: rules.Bot{Account: bot},
		Now: now,
	}
	matches, err := set.Eval(context.Background(), in, m)
	if err != nil {
		res.Failures = append(res.Failures, "evaluation error: "+err.Error())
	}
	res.Rules, res.Calls = []string{}, []string{}
	for _, mt := range matches {
		res.Rules = append(res.Rules, mt.Rule.Name)
		for _, s := range mt.Rule.Do {
			res.Calls = append(res.Calls, s.Plugin)
		}
	}
	if w := c.Expect.Rules; w != nil && !slices.Equal(res.Rules, *w) {
		res.Failures = append(res.Failures, fmt.Sprintf("rules: got %s, want %s", list(res.Rules), list(*w)))
	}
	if w := c.Expect.Calls; w != nil && !slices.Equal(res.Calls, *w) {
		res.Failures = append(res.Failures, fmt.Sprintf("calls: got %s, want %s", list(res.Calls), list(*w)))
	}
	if w := c.Expect.Invitation; w != "" {
		ok, err := set.AcceptInvitation(in)
		got := "decline"
		if ok {
			got = "accept"
		}
		switch {
		case err != nil:
			res.Failures = append(res.Failures, "invitation: "+err.Error())
		case got != w:
			res.Failures = append(res.Failures, fmt.Sprintf("invitation: got %s, want %s", got, w))
		}
	}
	return res
}

func list(xs []string) string { return "[" + strings.Join(xs, ", ") + "]" }

func (e Event) toEvent(bot string, now time.Time, i int) *event.Event {
	id := e.ID
	if id == "" {
		id = fmt.Sprintf("case-%d", i+1)
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
