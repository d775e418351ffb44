package plugins_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/plugins"
)

type greetConfig struct {
	Text  string `yaml:"text"`
	Times int    `yaml:"times"`
}

func (c greetConfig) Validate() error {
	if c.Text == "" {
		return errors.New("text: required")
	}
	return nil
}

var greet = plugins.Define(func(c greetConfig) (handlers.Handler, error) {
	return handlers.HandlerFunc(func(context.Context, *handlers.Request) error { return nil }), nil
})

// params parses doc and returns the node of its "params" key, the way the
// rules loader hands a step's parameters to a plugin.
func params(t *testing.T, doc string) *yaml.Node {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	m := root.Content[0]
	for i := 0; i < len(m.Content); i += 2 {
		if m.Content[i].Value == "params" {
			return m.Content[i+1]
		}
	}
	t.Fatalf("no params in %q", doc)
	return nil
}

func TestRegister_panics_on_empty_and_duplicate_names(t *testing.T) {
	r := plugins.NewRegistry()
	r.Register("greet", greet)
	for name, fn := range map[string]func(){
		"empty":     func() { r.Register("", greet) },
		"duplicate": func() { r.Register("greet", greet) },
		"nil":       func() { r.Register("other", nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Register did not panic")
				}
			}()
			fn()
		})
	}
}

func TestLookup_names_the_known_plugins(t *testing.T) {
	r := plugins.NewRegistry()
	r.Register("zeta", greet)
	r.Register("alpha", greet)
	if got := strings.Join(r.Names(), ","); got != "alpha,zeta" {
		t.Errorf("Names() = %q, want sorted alpha,zeta", got)
	}
	_, err := r.Lookup("beta")
	if err == nil || !strings.Contains(err.Error(), `unknown plugin "beta" (known: alpha, zeta)`) {
		t.Errorf("Lookup error = %v", err)
	}
}

func TestBuild_decodes_strictly_and_validates(t *testing.T) {
	r := plugins.NewRegistry()
	r.Register("greet", greet)

	if _, err := r.Build("greet", params(t, "params:\n  text: hi\n  times: 2\n")); err != nil {
		t.Fatalf("good params: %v", err)
	}
	_, err := r.Build("greet", params(t, "x: 1\nparams:\n  text: hi\n  tmies: 2\n"))
	if err == nil || !strings.Contains(err.Error(), "line 4") || !strings.Contains(err.Error(), "tmies") {
		t.Errorf("unknown key: error %v, want it to name line 4 and the key", err)
	}
	_, err = r.Build("greet", params(t, "params:\n  times: 2\n"))
	if err == nil || !strings.Contains(err.Error(), "text: required") {
		t.Errorf("validation: error %v", err)
	}
	_, err = r.Build("greet", params(t, "params:\n  text: [1, 2]\n"))
	if err == nil {
		t.Errorf("wrong type: no error")
	}
	if _, err := r.Build("nope", nil); err == nil {
		t.Errorf("unknown plugin: no error")
	}
}

type timesConfig struct {
	Times int `yaml:"times"`
}

type nestedConfig struct {
	Every string `yaml:"every"`
}

type wideConfig struct {
	Text        string `yaml:"text,omitempty"`
	timesConfig `yaml:",inline"`
	Untagged    bool
	Skipped     string         `yaml:"-"`
	Nested      []nestedConfig `yaml:"nested"`
}

func TestDecodeStrict_names_the_unknown_key_and_the_known_ones(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
		into            any
	}{
		{"reply", "params:\n  txt: hi\n", `line 2: unknown key "txt" (known: text, html, typing)`, &handlers.ReplyConfig{}},
		{"inline and untagged", "x: 1\ny: 2\nparams:\n  text: hi\n  skipped: x\n", `line 5: unknown key "skipped" (known: text, times, untagged, nested)`, &wideConfig{}},
		{"nested", "params:\n  nested:\n    - every: 1h\n    - evry: 2h\n", `line 4: unknown key "evry" (known: every)`, &wideConfig{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := plugins.DecodeStrict(params(t, tc.doc), tc.into)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	var w wideConfig
	if err := plugins.DecodeStrict(params(t, "params:\n  text: a\n  times: 3\n  untagged: true\n"), &w); err != nil || w.Times != 3 || !w.Untagged {
		t.Errorf("good params: %+v, %v", w, err)
	}
}
