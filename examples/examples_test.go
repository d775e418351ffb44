package examples_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/examples"
	"github.com/ucwabot/ucwabot/plugins"
	_ "github.com/ucwabot/ucwabot/plugins/standard"
	"github.com/ucwabot/ucwabot/rules"
)

// between returns the text between two marker lines of a file.
func between(t *testing.T, text, start, end string) string {
	t.Helper()
	i := strings.Index(text, start)
	j := strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("markers %q … %q not found", start, end)
	}
	return text[i+len(start) : j]
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var fence = regexp.MustCompile("(?s)^\\s*```[a-z]*\\n(.*)```\\s*$")

func TestREADME_plugin_example_is_the_compiled_shout_plugin(t *testing.T) {
	readme := between(t, readFile(t, "../README.md"), "<!-- customplugin:start -->", "<!-- customplugin:end -->")
	m := fence.FindStringSubmatch(readme)
	if m == nil {
		t.Fatalf("the README's plugin example is not one fenced block:\n%s", readme)
	}
	code := between(t, readFile(t, "customplugin/shout/shout.go"), "// customplugin:start\n", "// customplugin:end")
	if strings.TrimSpace(m[1]) != strings.TrimSpace(code) {
		t.Fatalf("README plugin example differs from examples/customplugin/shout/shout.go:\n--- README\n%s\n--- shout.go\n%s", m[1], code)
	}
	if n := strings.Count(strings.TrimSpace(code), "\n") + 1; n >= 40 {
		t.Fatalf("the plugin example has %d lines; the README promises under 40", n)
	}
}

func TestREADME_rules_example_loads_with_the_standard_plugins(t *testing.T) {
	block := between(t, readFile(t, "../README.md"), "<!-- rules-example:start -->", "<!-- rules-example:end -->")
	m := fence.FindStringSubmatch(block)
	if m == nil {
		t.Fatalf("the README's rules example is not one fenced block:\n%s", block)
	}
	set, err := rules.LoadBytes(rules.Options{Build: plugins.Default.Build}, "README.md", []byte(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if len(set.Rules()) < 3 {
		t.Fatalf("%d rules loaded", len(set.Rules()))
	}
}

func TestHelpdeskRules_load_with_the_standard_plugins(t *testing.T) {
	set, err := rules.LoadBytes(rules.Options{Build: plugins.Default.Build}, "rules/helpdesk.yaml", examples.HelpdeskRules)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if len(set.Rules()) == 0 {
		t.Fatal("no rules")
	}
}
