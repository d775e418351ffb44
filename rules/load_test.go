package rules_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ucwabot/ucwabot/plugins"
	_ "github.com/ucwabot/ucwabot/plugins/standard"
	"github.com/ucwabot/ucwabot/rules"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// Every problem of every file comes back at once, each with its place,
// sorted by file (in load order) and position.
func TestLoadReportsEveryErrorOfEveryFile(t *testing.T) {
	dir := t.TempDir()
	a := writeRules(t, dir, "a.yaml", `bogus: 1
rules:
  - name: one
    on: typing
    do: [leave]
    colour: red
  - name: two
    on: message.recieved
    do: [leave]
`)
	b := writeRules(t, dir, "b.yaml", `rules:
  - name: one
    on: typing
    do: [leave]
  - name: three
    on: typing
    do: [leave]
    stop: maybe
`)
	es := loadFail(t, rules.Options{}, a, b)
	hasErr(t, es, a+`:1:1: unknown key "bogus" (known: version, timezone, vars, include, subscribe, invitations, help, rules, or x-NAME for anchors)`)
	hasErr(t, es, a+`:6:5: rule "one": unknown key "colour" (known: name, description, on, when, do, on_error, stop, enabled, priority, cooldown, command, help, restrict_to, every, cron)`)
	hasErrLike(t, es, a+`:8:9: rule "two": on: unknown event kind "message.recieved" (known: `, "message.received", "typing", "invitation.received")
	hasErr(t, es, b+`:2:5: rule "one": name: already used by the rule at `+a+`:3`)
	hasErr(t, es, b+`:8:11: rule "three": stop: want true or false, got "maybe"`)
	if len(es) != 5 {
		t.Errorf("got %d errors, want 5:\n%s", len(es), indentLines(es.Error()))
	}
	// Sorted: file order, then line, then column.
	fileIdx := map[string]int{a: 0, b: 1}
	if !sort.SliceIsSorted(es, func(i, j int) bool {
		x, y := es[i], es[j]
		if x.File != y.File {
			return fileIdx[x.File] < fileIdx[y.File]
		}
		return x.Line < y.Line || x.Line == y.Line && x.Col < y.Col
	}) {
		t.Errorf("errors not sorted:\n%s", indentLines(es.Error()))
	}
	// The error text is one problem per line.
	var err error = es
	if got := strings.Count(err.Error(), "\n"); got != len(es)-1 {
		t.Errorf("error text has %d lines, want %d", got+1, len(es))
	}
	// errors.As reaches each problem.
	var one *rules.Error
	if !errors.As(err, &one) || one.File != a {
		t.Errorf("errors.As(*rules.Error) = %v", one)
	}
}

func TestErrorFormat(t *testing.T) {
	cases := []struct {
		e    rules.Error
		want string
	}{
		{rules.Error{File: "f.yaml", Line: 3, Col: 7, Rule: "greet", Field: "when", Msg: "bad"}, `f.yaml:3:7: rule "greet": when: bad`},
		{rules.Error{File: "f.yaml", Line: 3, Field: "timezone", Msg: "bad"}, `f.yaml:3: timezone: bad`},
		{rules.Error{File: "f.yaml", Msg: "no such file"}, `f.yaml: no such file`},
	}
	for _, c := range cases {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

func TestLoadRuleErrors(t *testing.T) {
	es, p := textFail(t, rules.Options{}, `rules:
  - description: no name, no on, no do
  - name: types
    on: typing
    do: [leave]
    stop: "yes"
    enabled: 3
    priority: high
  - name: cool
    on: typing
    do: [leave]
    cooldown: {window: 0s, per: [room]}
  - name: cool2
    on: typing
    do: [leave]
    cooldown: {window: soon}
  - name: cool3
    on: typing
    do: [leave]
    cooldown: {per: [participant]}
  - name: emptydo
    on: typing
    do: []
`)
	hasErr(t, es, p+`:2:5: rule "#1": name: required`)
	hasErr(t, es, p+`:2:5: rule "#1": on: required: the event kinds the rule is for`)
	hasErr(t, es, p+`:2:5: rule "#1": do: required: the handler calls the rule makes`)
	hasErr(t, es, p+`:6:11: rule "types": stop: want true or false, got "yes"`)
	hasErr(t, es, p+`:7:14: rule "types": enabled: want true or false, got "3"`)
	hasErr(t, es, p+`:8:15: rule "types": priority: want an integer, got "high"`)
	hasErr(t, es, p+`:12:24: rule "cool": cooldown.window: want a positive duration such as 30m, 24h or 7d, got "0s"`)
	hasErr(t, es, p+`:12:34: rule "cool": cooldown.per: unknown key part "room" (known: conversation, participant)`)
	hasErr(t, es, p+`:16:24: rule "cool2": cooldown.window: want a positive duration such as 30m, 24h or 7d, got "soon"`)
	hasErr(t, es, p+`:20:15: rule "cool3": cooldown.window: required`)
	hasErrLike(t, es, p+`:23:9: rule "emptydo": do: want a list of handler calls`)
	if len(es) != 11 {
		t.Errorf("got %d errors, want 11:\n%s", len(es), indentLines(es.Error()))
	}
}

func TestLoadFileLevelErrors(t *testing.T) {
	dir := t.TempDir()
	a := writeRules(t, dir, "a.yaml", `version: 2
timezone: Europe/Berlin
vars:
  helpdesk: sip:helpdesk@contoso.com
invitations:
  accept: 'true'
include:
  - nothing/*.yaml
rules:
  - name: a
    on: typing
    do: [leave]
`)
	b := writeRules(t, dir, "b.yaml", `timezone: America/New_York
vars:
  helpdesk: sip:other@contoso.com
invitations:
  accept: 'false'
rules:
  - name: b
    on: typing
    do: [leave]
`)
	c := writeRules(t, dir, "c.yaml", `timezone: Mars/Olympus_Mons
rules:
  - name: c
    on: typing
    do: [leave]
`)
	es := loadFail(t, rules.Options{}, a, b, c)
	hasErr(t, es, a+`:1:10: version: unsupported version "2" (this bot reads version 1)`)
	hasErr(t, es, a+`:8:5: include: "nothing/*.yaml" matches no file`)
	hasErr(t, es, b+`:1:11: timezone: "America/New_York" differs from "Europe/Berlin" set at `+a+`:2`)
	hasErr(t, es, b+`:3:3: vars: "helpdesk" is already defined at `+a+`:4`)
	hasErr(t, es, b+`:5:3: invitations.accept: already set at `+a+`:6`)
	hasErr(t, es, c+`:1:11: timezone: unknown time zone "Mars/Olympus_Mons"`)
	if len(es) != 6 {
		t.Errorf("got %d errors, want 6:\n%s", len(es), indentLines(es.Error()))
	}
}

func TestLoadMissingFileAndEmptyPaths(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.yaml")
	es := loadFail(t, rules.Options{}, missing)
	hasErr(t, es, missing+": no such file or directory")
	es = loadFail(t, rules.Options{})
	hasErr(t, es, "rules: no rules file given")
	empty := t.TempDir()
	es = loadFail(t, rules.Options{}, empty)
	hasErr(t, es, empty+": directory has no *.yaml or *.yml rules file")
}

func TestLoadYAMLSyntaxErrorLine(t *testing.T) {
	const hint = " (check the indentation of this line and of the lines before)"
	// The library names the line where the enclosing block starts (or
	// none); the loader names the first line of the file whose prefix up
	// to it fails, and its first non-blank column.
	cases := []struct{ name, src, want string }{
		// A scanner error.
		{"mapping value", "rules:\n  - name: x\n    on: typing: now\n", ":3:5: mapping values are not allowed in this context"},
		// Parser errors.
		{"unclosed flow list", "rules:\n  - name: x\n    on: [typing\n    do: [leave]\n", ":3:5: did not find expected ',' or ']'" + hint},
		{"bad indentation", "a: 1\nb:\n  c: 1\n d: 2\n", ":4:2: did not find expected key" + hint},
		// The list starts on the first line and is never closed.
		{"first line", "[x\n", ":1:1: did not find expected ',' or ']'" + hint},
		{"block list", "rules:\n  - name: x\n    on: typing\n   do: [leave]\n", ":4:4: did not find expected '-' indicator" + hint},
		{"tab", "rules:\n  - name: x\n\t  on: typing\n", ":3:1: found a tab character that violates indentation"},
		{"unknown anchor", "rules:\n  - name: x\n    on: typing\n    do: *steps\n", ":4:9: unknown anchor 'steps' referenced"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			es, p := textFail(t, rules.Options{}, c.src)
			if len(es) != 1 || es[0].Error() != p+c.want {
				t.Errorf("got\n%s\nwant\n  %s", indentLines(es.Error()), p+c.want)
			}
		})
	}
}

// An unknown name in a condition is reported at the offending token's
// line and column in the file, whatever the scalar style, with expr's
// caret snippet.
func TestLoadExpressionErrorPositions(t *testing.T) {
	es, p := textFail(t, rules.Options{}, `rules:
  - name: plain
    on: typing
    when: true && nosuch == 1
    do: [leave]
  - name: single
    on: typing
    when: 'true && nosuch'
    do: [leave]
  - name: double
    on: typing
    when: "message.text == \"x\" || nosuch"
    do: [leave]
  - name: block
    on: typing
    when: |
      participant.local ||
        nosuch
    do: [leave]
  - name: block deeper
    on: typing
    when: |
          true &&
          nosuch
    do: [leave]
`)
	// The caret points at the token in the expression's own line.
	hasErr(t, es, p+`:4:19: rule "plain": when: unknown name nosuch
 | true && nosuch == 1
 | ........^`)
	hasErr(t, es, p+`:8:20: rule "single": when: unknown name nosuch
 | true && nosuch
 | ........^`)
	// Escapes before the token count as written in the file.
	hasErr(t, es, p+`:12:37: rule "double": when: unknown name nosuch
 | message.text == "x" || nosuch
 | .......................^`)
	hasErr(t, es, p+`:18:9: rule "block": when: unknown name nosuch
 |   nosuch
 | ..^`)
	hasErr(t, es, p+`:24:11: rule "block deeper": when: unknown name nosuch
 | nosuch
 | ^`)
	if len(es) != 5 {
		t.Errorf("got %d errors, want 5:\n%s", len(es), indentLines(es.Error()))
	}
}

// In a double-quoted scalar without escapes before the token the column
// is exact.
func TestLoadExpressionErrorDoubleQuotedColumn(t *testing.T) {
	es, p := textFail(t, rules.Options{}, `rules:
  - name: double
    on: typing
    when: "participant.local || nosuch"
    do: [leave]
`)
	hasErr(t, es, p+`:4:33: rule "double": when: unknown name nosuch
 | participant.local || nosuch
 | .....................^`)
}

func TestLoadExpressionErrors(t *testing.T) {
	es, p := textFail(t, rules.Options{}, `invitations:
  accept: 'nosuch'
rules:
  - name: int
    on: typing
    when: '1 + 2'
    do: [leave]
  - name: regex
    on: message.received
    when: 'message.text matches "(unclosed"'
    do: [leave]
  - name: clock
    on: message.received
    when: 'between("25:00", "17:00")'
    do: [leave]
  - name: clock2
    on: message.received
    when: 'between("09:00", "5pm")'
    do: [leave]
  - name: string
    on: message.received
    when: message.text
    do: [leave]
  - name: list
    on: message.received
    when: [a, b]
    do: [leave]
`)
	hasErrLike(t, es, p+`:2:12: invitations.accept: unknown name nosuch`)
	hasErrLike(t, es, p+`:6:11: rule "int": when: `, "bool", "int")
	hasErrLike(t, es, p+`:10:25: rule "regex": when: error parsing regexp: missing closing ): `+"`(unclosed`", "^")
	hasErrLike(t, es, p+`:14:20: rule "clock": when: "25:00" is not a time of day (want HH:MM, 00:00 to 23:59)`)
	hasErrLike(t, es, p+`:18:29: rule "clock2": when: "5pm" is not a time of day`)
	hasErrLike(t, es, p+`:22:11: rule "string": when: `, "bool", "string")
	hasErr(t, es, p+`:26:11: rule "list": when: want an expression`)
	if len(es) != 7 {
		t.Errorf("got %d errors, want 7:\n%s", len(es), indentLines(es.Error()))
	}
}

func TestLoadMaxNodes(t *testing.T) {
	terms := make([]string, 40)
	for i := range terms {
		terms[i] = `message.text == "x"`
	}
	src := "rules:\n  - name: big\n    on: message.received\n    when: '" + strings.Join(terms, " || ") + "'\n    do: [leave]\n"
	dir := t.TempDir()
	p := writeRules(t, dir, "big.yaml", src)
	es := loadFail(t, rules.Options{MaxNodes: 50}, p)
	hasErrLike(t, es, p+`:4:`, `rule "big": when: `, "exceeds maximum allowed nodes")
	// The default limit is large enough for it.
	loadOK(t, rules.Options{}, p)
}

// Plugin errors come from Options.Build and are reported at the step.
func TestLoadPluginErrorsStrictBuilder(t *testing.T) {
	b := &strictBuilder{}
	es, p := textFail(t, rules.Options{Build: b.Build}, `rules:
  - name: ok
    on: typing
    do:
      - reply: {text: hi}
  - name: unknown plugin
    on: typing
    do:
      - leave
      - shout: {text: hi}
  - name: typo
    on: typing
    do:
      - reply: {txt: hi}
  - name: invalid
    on: typing
    do:
      - reply: {}
  - name: params for leave
    on: typing
    do:
      - leave: {now: true}
`)
	hasErr(t, es, p+`:10:9: rule "unknown plugin": do[1] shout: unknown plugin "shout" (known: leave, log, reply, set)`)
	hasErr(t, es, p+`:14:9: rule "typo": do[0] reply: field txt not found in type rules_test.replyArgs`)
	hasErr(t, es, p+`:18:9: rule "invalid": do[0] reply: text is required`)
	hasErr(t, es, p+`:22:9: rule "params for leave": do[0] leave: leave takes no parameters`)
	if len(es) != 4 {
		t.Errorf("got %d errors, want 4:\n%s", len(es), indentLines(es.Error()))
	}
	// The failed load cleaned up every instance it built.
	insts := b.all()
	if len(insts) != 2 {
		t.Fatalf("built %d instances, want 2 (ok's reply, unknown plugin's leave)", len(insts))
	}
	for _, in := range insts {
		if n := in.cleaned.Load(); n != 1 {
			t.Errorf("%s instance cleaned up %d times, want 1", in.plugin, n)
		}
	}
}

// The real registry, with every plugin of the repository linked in.
func TestLoadPluginErrorsDefaultRegistry(t *testing.T) {
	es, p := textFail(t, rules.Options{Build: func(name string, params *yaml.Node) (any, error) {
		return plugins.Default.Build(name, params)
	}}, `rules:
  - name: good
    on: message.received
    do:
      - reply: {text: "Hello {{.Participant.Name}}"}
      - leave
  - name: unknown
    on: message.received
    do:
      - shout: {text: hi}
  - name: missing text
    on: message.received
    do:
      - reply: {typing: true}
  - name: typo
    on: message.received
    do:
      - reply:
          text: hi
          colour: red
`)
	hasErrLike(t, es, p+`:10:9: rule "unknown": do[0] shout: unknown plugin "shout"`, "reply", "leave")
	hasErrLike(t, es, p+`:14:9: rule "missing text": do[0] reply: `, `one of "text" or "html" is required`)
	hasErrLike(t, es, p+`:20:11: rule "typo": do[0] reply: `, "colour")
	if len(es) != 3 {
		t.Errorf("got %d errors, want 3:\n%s", len(es), indentLines(es.Error()))
	}
}

func TestLoadBuildsInstances(t *testing.T) {
	b := &strictBuilder{}
	s := loadText(t, rules.Options{Build: b.Build}, `rules:
  - name: r
    on: [typing, message.received, typing]
    do:
      - reply: {text: hi}
      - set: {step: 2}
      - leave
`)
	r := s.Rules()[0]
	if len(r.On) != 2 {
		t.Errorf("On = %v, want the two kinds once each", r.On)
	}
	if len(r.Do) != 3 {
		t.Fatalf("Do = %+v", r.Do)
	}
	want := []struct {
		plugin    string
		line, col int
	}{{"reply", 5, 9}, {"set", 6, 9}, {"leave", 7, 9}}
	for i, w := range want {
		st := r.Do[i]
		if st.Plugin != w.plugin || st.Line != w.line || st.Col != w.col {
			t.Errorf("Do[%d] = %s at %d:%d, want %s at %d:%d", i, st.Plugin, st.Line, st.Col, w.plugin, w.line, w.col)
		}
		inst, ok := st.Instance.(*cleanupInst)
		if !ok || inst.plugin != w.plugin {
			t.Errorf("Do[%d].Instance = %#v", i, st.Instance)
		}
	}
	if r.Do[2].Params != nil {
		t.Errorf("bare step has params %v", r.Do[2].Params)
	}
	if got := r.Do[0].Instance.(*cleanupInst).params.(replyArgs).Text; got != "hi" {
		t.Errorf("reply text = %q", got)
	}
}

// The golden file holds the full error text of a file with many
// problems; go test ./rules -run Golden -update rewrites it.
func TestLoadGoldenErrors(t *testing.T) {
	const src, golden = "testdata/bad_many.yaml", "testdata/bad_many.golden"
	b := &strictBuilder{}
	_, err := rules.Load(rules.Options{Build: b.Build}, src)
	if err == nil {
		t.Fatal("testdata/bad_many.yaml loaded")
	}
	checkGolden(t, golden, err.Error()+"\n")
}

// checkGolden compares got with the golden file, which -update rewrites.
func checkGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update after checking it):\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}
