package rules_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ucwabot/ucwabot/rules"
)

// fuzzDocs are small documents that reach every part of the loader.
var fuzzDocs = []string{
	``,
	`version: 1`,
	`version: 2`,
	`[1, 2]`,
	"version: 1\ntimezone: Europe/Berlin\nvars:\n  a: 1\n  hours: [\"09:00\", \"17:00\"]\nsubscribe: [sip:a@b.c]\n" +
		"invitations:\n  accept: 'domain(participant.uri) == \"b.c\"'\n" +
		"rules:\n  - name: r\n    on: [message.received, typing]\n    when: 'icontains(message.text, \"x\") && between(vars.hours[0], vars.hours[1])'\n" +
		"    do:\n      - reply: { text: hi }\n      - leave\n    stop: true\n    priority: 3\n    cooldown: { window: 1h, per: [participant] }\n",
	"rules:\n  - name: a\n    on: typing\n    when: |\n      state.step ==\n        \"ask\" &&\n      message.text matches \"(\"\n    do: [x]\n",
	"rules:\n  - name: a\n    on: nope\n    when: 'between(\"25:00\", \"x\")'\n    do: []\n    cooldown: { window: -1s, per: [who] }\n    enabled: maybe\n  - name: a\n    do: [{}]\n",
	"include: [other.yaml]\nrules:\n  - {name: b, on: typing, do: [x], when: 'vars.k == 1'}\n",
	"include: [none-*.yaml]\ntimezone: Olympus\nvars: []\ninvitations: {accept: '1 +'}\n",
	"rules:\n  - name: &n x\n    on: *n\n    do: [*n]\n",
	"rules:\n\t- bad indentation\n",
}

// FuzzLoad checks that LoadBytes never panics and that every load either
// gives a Set or Errors whose entries name the file and a line >= 0.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"../examples/rules/*.yaml", "testdata/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, d := range fuzzDocs {
		f.Add([]byte(d))
	}
	// Includes resolve relative to the loaded file: give them a directory
	// of their own with one file to find.
	dir := f.TempDir()
	other := "vars: {k: 1}\nrules:\n  - {name: o, on: typing, do: [x]}\n"
	if err := os.WriteFile(filepath.Join(dir, "other.yaml"), []byte(other), 0o600); err != nil {
		f.Fatal(err)
	}
	name := filepath.Join(dir, "fuzz.yaml")

	f.Fuzz(func(t *testing.T, data []byte) {
		// Keep includes inside dir: a pattern that names another place
		// would make the fuzzer read the host's files.
		if bytes.Contains(data, []byte("include")) && (bytes.ContainsAny(data, `/\`) || bytes.Contains(data, []byte(".."))) {
			return
		}
		s, err := rules.LoadBytes(rules.Options{}, name, data)
		if err == nil {
			if s == nil {
				t.Fatal("LoadBytes returned neither a Set nor an error")
			}
			_ = s.Close()
			return
		}
		if s != nil {
			t.Fatal("LoadBytes returned a Set and an error")
		}
		var es rules.Errors
		if !errors.As(err, &es) {
			t.Fatalf("error is %T, not rules.Errors: %v", err, err)
		}
		if len(es) == 0 {
			t.Fatal("empty Errors")
		}
		for _, e := range es {
			if e == nil {
				t.Fatal("nil *Error in Errors")
			}
			if e.File == "" || e.Line < 0 || e.Col < 0 {
				t.Fatalf("error without a file or with a negative position: %#v", *e)
			}
			if e.Msg == "" {
				t.Fatalf("error without a message: %#v", *e)
			}
			_ = e.Error()
		}
	})
}
