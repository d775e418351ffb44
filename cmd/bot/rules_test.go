package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var examplesRules = filepath.Join("..", "..", "examples", "rules")

func TestRulesCheck_examples_are_ok(t *testing.T) {
	for _, path := range []string{examplesRules, filepath.Join(examplesRules, "helpdesk.yaml"), filepath.Join(examplesRules, "..", "oncall")} {
		r := runBot(t, "", nil, "rules", "check", path)
		if r.code != 0 || !regexp.MustCompile(`^ok: \d+ rules, version sha256:[0-9a-f]{12}\n$`).MatchString(r.stdout) || r.stderr != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", path, r.code, r.stdout, r.stderr)
		}
	}
}

func TestRulesCheck_prints_every_error_of_every_file_and_exits_1(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	writeFile(t, a, `version: 1
rules:
  - name: greet
    on: participant.joined
    when: '!participant.local &&'
    do:
      - reply: { text: "hi" }
  - name: shout
    on: message.recieved
    colour: red
    do:
      - nosuchplugin
`)
	writeFile(t, b, `rules:
  - name: greet
    on: typing
    do:
      - reply: { txt: "x" }
`)
	r := runBot(t, "", nil, "rules", "check", dir)
	if r.code != 1 || r.stdout != "" {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
	for _, want := range []string{
		a + `:5:32: rule "greet": when: `,
		a + `:9:9: rule "shout": on: unknown event kind "message.recieved"`,
		a + `:10:5: rule "shout": unknown key "colour"`,
		a + `:12:9: rule "shout": do[0] nosuchplugin: unknown plugin "nosuchplugin"`,
		b + `:2:5: rule "greet": name: already used by the rule at ` + a + `:3`,
		b + `:5:18: rule "greet": do[0] reply: unknown key "txt" (known: text, html, typing)`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if !strings.HasPrefix(r.stderr, "bot rules check: ") {
		t.Errorf("stderr %q", r.stderr)
	}

	r = runBot(t, "", nil, "rules", "check", filepath.Join(dir, "missing.yaml"))
	if r.code != 1 || !strings.Contains(r.stderr, "missing.yaml") {
		t.Errorf("missing file: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runBot(t, "", nil, "rules", "check")
	if r.code != 2 || !strings.Contains(r.stderr, "needs at least one PATH") {
		t.Errorf("no path: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestRulesTest_helpdesk_cases_pass(t *testing.T) {
	r := runBot(t, "", nil, "rules", "test", "--cases", filepath.Join(examplesRules, "helpdesk.cases.yaml"), filepath.Join(examplesRules, "helpdesk.yaml"))
	if r.code != 0 || !regexp.MustCompile(`(?m)^(\d+) cases, (\d+) passed, 0 failed$`).MatchString(r.stdout) {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// The on-call example's cases cover commands and help, the escalation
// timer, a person's state across conversations and a schedule.
func TestRulesTest_oncall_cases_pass(t *testing.T) {
	dir := filepath.Join(examplesRules, "..", "oncall")
	r := runBot(t, "", nil, "rules", "test", "--cases", filepath.Join(dir, "oncall.cases.yaml"), filepath.Join(dir, "oncall.yaml"))
	if r.code != 0 || !regexp.MustCompile(`(?m)^5 cases, 5 passed, 0 failed$`).MatchString(r.stdout) {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestRulesTest_a_failing_case_exits_1_and_shows_it(t *testing.T) {
	dir := t.TempDir()
	rulesPath, cases := filepath.Join(dir, "r.yaml"), filepath.Join(dir, "r.cases.yaml")
	writeFile(t, rulesPath, `rules:
  - name: greet
    on: participant.joined
    when: '!participant.local'
    do:
      - reply: { text: "Hello {{.Participant.Name}}" }
`)
	writeFile(t, cases, `cases:
  - name: greets a person
    event: { kind: participant.joined, participant: { uri: "sip:alice@example.com" }, conversation: { id: c1 } }
    expect: { rules: [greet], calls: [reply] }
  - name: greets the bot itself
    event: { kind: participant.joined, participant: { uri: "sip:bot@example.com", local: true }, conversation: { id: c1 } }
    expect: { rules: [greet] }
`)
	r := runBot(t, "", nil, "rules", "test", "--cases", cases, rulesPath)
	if r.code != 1 {
		t.Errorf("exit %d", r.code)
	}
	if !regexp.MustCompile(`(?m)^ok\s+greets a person$`).MatchString(r.stdout) ||
		!strings.Contains(r.stdout, "FAIL greets the bot itself ("+cases+":5)") ||
		!strings.Contains(r.stdout, "rules: got [], want [greet]") ||
		!strings.Contains(r.stdout, "2 cases, 1 passed, 1 failed") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "1 of 2 cases failed") {
		t.Errorf("stderr %q", r.stderr)
	}

	r = runBot(t, "", nil, "rules", "test", rulesPath)
	if r.code != 2 || !strings.Contains(r.stderr, "--cases is required") {
		t.Errorf("no cases: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestRulesTest_accepts_flags_before_and_after_the_paths(t *testing.T) {
	cases, rulesPath := filepath.Join(examplesRules, "helpdesk.cases.yaml"), filepath.Join(examplesRules, "helpdesk.yaml")
	passed := regexp.MustCompile(`(?m)^(\d+) cases, (\d+) passed, 0 failed$`)
	for _, args := range [][]string{
		{"rules", "test", rulesPath, "--cases", cases},
		{"rules", "test", "--cases", cases, rulesPath},
		{"rules", "test", rulesPath, "-cases=" + cases},
	} {
		r := runBot(t, "", nil, args...)
		if r.code != 0 || !passed.MatchString(r.stdout) {
			t.Errorf("%q: exit %d, stdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
		}
	}

	// After "--" every argument is a path, even one that looks like a flag.
	r := runBot(t, "", nil, "rules", "test", "--cases", cases, "--", rulesPath, "--cases")
	if r.code != 1 || !strings.Contains(r.stderr, "--cases") {
		t.Errorf("path after --: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// A flag after the path is still checked.
	r = runBot(t, "", nil, "rules", "test", rulesPath, "--nosuchflag")
	if r.code != 2 || !strings.Contains(r.stderr, "flag provided but not defined: -nosuchflag") {
		t.Errorf("unknown flag after the path: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestRulesCheck_accepts_paths_around_flags(t *testing.T) {
	r := runBot(t, "", nil, "rules", "check", examplesRules, "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "Usage: bot rules check") {
		t.Errorf("--help after the path: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
