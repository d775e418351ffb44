package rulestest_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	_ "github.com/ucwabot/ucwabot/plugins/standard"
	"github.com/ucwabot/ucwabot/rules"
	"github.com/ucwabot/ucwabot/rules/rulestest"
)

// fuzzCases reach the parts of the cases parser the example files leave
// out.
var fuzzCases = []string{
	"cases:\n  - name: a\n    event: {kind: typing}\n    expekt: {}\n",
	"cases:\n  - name: a\n    event: {kind: typed}\n",
	"cases:\n  - name: x\n    event: {kind: typing}\n    expect: {rules: []}\n  - name: a\n    event: {kind: typing}\n    now: tomorrow\n",
	"cases:\n  - event: {kind: typing}\n",
	"cases: []\n",
	"cases:\n  - name: a\n    steps:\n      - event: {kind: typing}\n        expect: {rules: []}\n      - event: {kind: typing}\n",
	"cases:\n  - name: a\n    event: {kind: typing}\n    expect: {rules: []}\n    expect: {calls: []}\n",
	"cases:\n  - name: a\n    state: {step: 1, topic: [x]}\n    presence: {sip:bob@contoso.com: Online}\n    bot: sip:helpdesk-bot@contoso.com\n" +
		"    now: 2026-03-02T10:00:00+01:00\n    steps:\n      - event: {kind: message.received, message: {text: status}, participant: {uri: sip:alice@contoso.com}}\n" +
		"        now: 2026-03-02T10:00:01Z\n        expect: {replies: [x], actions: [typing], state: {step: null}}\n",
	"cases: &c\n  - name: a\n    event: {kind: typing}\n    expect: {rules: []}\nx: *c\n",
	"cases:\n  - &a {name: a, event: {kind: typing}, expect: {rules: []}}\n  - *a\n",
	"cases:\n  - name: a\n    steps: &s\n      - {event: {kind: typing}, expect: {rules: []}}\n  - name: b\n    steps: *s\n",
	"cases: {name: a}\n",
	"cases:\n  - &a {name: a, steps: [{event: {kind: typing}, expect: {rules: []}}]}\n  - {<<: *a, name: b}\n",
	"cases:\n\t- name: a\n",
}

var errLine = regexp.MustCompile(`^fuzz\.cases\.yaml:(\d+):`)

// FuzzParse checks that the cases parser never panics; that every line of
// an error names the file, and a line number, when it has one, of 1 or
// more; that every case and step it reads has its line; and that running
// the cases on the example rules never panics and gives one result per
// case.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"../../examples/rules/*.cases.yaml", "../testdata/dir/*.cases.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil || len(files) == 0 {
			f.Fatalf("no seeds %s: %v", pattern, err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, c := range fuzzCases {
		f.Add([]byte(c))
	}
	set, err := rules.Load(rules.Options{}, "../../examples/rules/helpdesk.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = set.Close() })
	const name = "fuzz.cases.yaml"

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := rulestest.Parse(name, data)
		if err != nil {
			if file != nil {
				t.Fatal("Parse returned a file and an error")
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, name+":") {
					t.Fatalf("error line %q does not name the file; whole error:\n%v", line, err)
				}
				if m := errLine.FindStringSubmatch(line); m != nil {
					if n, _ := strconv.Atoi(m[1]); n < 1 {
						t.Fatalf("error line %q names line %d", line, n)
					}
				}
			}
			return
		}
		if file == nil || len(file.Cases) == 0 {
			t.Fatal("Parse returned no cases and no error")
		}
		for _, c := range file.Cases {
			if c.Line < 1 {
				t.Fatalf("case %q without its line", c.Name)
			}
			for i, s := range c.Steps {
				if s.Line < 1 {
					t.Fatalf("case %q: step %d without its line", c.Name, i+1)
				}
			}
		}
		rep, err := rulestest.Run(set, name, file.Cases)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if rep.Total() != len(file.Cases) {
			t.Fatalf("%d results for %d cases", rep.Total(), len(file.Cases))
		}
		_ = rep.String()
	})
}
