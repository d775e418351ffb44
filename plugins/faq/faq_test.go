package faq_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
	"github.com/ucwabot/ucwabot/plugins"
	"github.com/ucwabot/ucwabot/plugins/faq"
)

func TestMatch_by_question_or_pattern_first_entry_wins(t *testing.T) {
	f, err := faq.Load("testdata/faq.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		text, want string
	}{
		{"how do I  reset my PASSWORD", "testdata/faq.yaml:2"},
		{"I forgot my password again", "testdata/faq.yaml:2"},
		{"the VPN is down", "testdata/faq.yaml:5"},
		{"where is the printer", "testdata/faq.yaml:7"},
		{"where is the printer on floor 3?", ""},
		{"vpnclient crashed", ""},
		{"", ""},
	}
	for _, tc := range cases {
		e, ok := f.Match(tc.text)
		got := ""
		if ok {
			got = e.Location()
		}
		if got != tc.want {
			t.Errorf("Match(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestParse_reports_every_bad_entry_with_its_line(t *testing.T) {
	data := `faq:
  - questions: [hello]
    answer: hi
  - patterns: ['(unclosed']
    answer: x
  - questions: [a]
  - patterns: [b]
    answer: x
    html: y
  - answer: orphan
`
	_, err := faq.Parse("bad.yaml", []byte(data))
	if err == nil {
		t.Fatal("Parse accepted a broken file")
	}
	for _, want := range []string{"bad.yaml:4: entry 2: pattern", "bad.yaml:6: entry 3: \"answer\" or \"html\" is required", "bad.yaml:7: entry 4: give", "bad.yaml:10: entry 5: \"questions\" or \"patterns\""} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestParse_rejects_unknown_keys_and_empty_files(t *testing.T) {
	_, err := faq.Parse("typo.yaml", []byte("faq:\n  - question: [hello]\n    answer: hi\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "question") {
		t.Fatalf("err = %v, want the unknown key and its line", err)
	}
	for _, data := range []string{"", "faq: []\n"} {
		if _, err := faq.Parse("empty.yaml", []byte(data)); !errors.Is(err, faq.ErrNoEntries) {
			t.Fatalf("Parse(%q) = %v, want ErrNoEntries", data, err)
		}
	}
}

func build(t *testing.T, params string) (handlers.Handler, error) {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(params), &n); err != nil {
		t.Fatal(err)
	}
	h, err := plugins.Default.Build("faq", n.Content[0])
	if err != nil {
		return nil, err
	}
	return h.(handlers.Handler), nil
}

func TestPlugin_answers_falls_back_and_records_the_entry(t *testing.T) {
	h, err := build(t, `{file: testdata/faq.yaml, fallback: "No idea.", field: faq}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ text, op, said, field string }{
		{"I forgot my password", "say", "Go to https://passwordreset.contoso.com and follow the steps.", `"testdata/faq.yaml:2"`},
		{"vpn?", "html", `<a href="https://wiki.contoso.com/vpn">The VPN guide</a>`, `"testdata/faq.yaml:5"`},
		{"what is the meaning of life", "say", "No idea.", ""},
	} {
		req, rec := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", tc.text))
		if err := h.Handle(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		a := rec.Actions()
		if len(a) != 1 || a[0].Op != tc.op || a[0].Text != tc.said {
			t.Errorf("%q: actions = %+v", tc.text, a)
		}
		if got := string(req.State.Raw("faq")); got != tc.field {
			t.Errorf("%q: state faq = %s, want %s", tc.text, got, tc.field)
		}
	}
}

func TestPlugin_without_fallback_stays_silent(t *testing.T) {
	h, err := build(t, `{file: testdata/faq.yaml}`)
	if err != nil {
		t.Fatal(err)
	}
	req, rec := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "unrelated"))
	if err := h.Handle(context.Background(), req); err != nil || len(rec.Actions()) != 0 {
		t.Fatalf("err = %v, actions = %+v", err, rec.Actions())
	}
}

func TestPlugin_checks_its_file_at_build_time(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.yaml")
	if err := os.WriteFile(broken, []byte("faq:\n  - patterns: ['[']\n    answer: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ params, want string }{
		{`{}`, `"file" is required`},
		{`{file: ` + filepath.Join(dir, "missing.yaml") + `}`, "missing.yaml"},
		{`{file: ` + broken + `}`, "broken.yaml:2"},
		{"{file: x.yaml, fallbak: hi}", "fallbak"},
	}
	for _, tc := range cases {
		if _, err := build(t, tc.params); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.params, err, tc.want)
		}
	}
}
