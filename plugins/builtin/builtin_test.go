package builtin_test

import (
	"context"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
	"github.com/ucwabot/ucwabot/plugins"
	"github.com/ucwabot/ucwabot/plugins/builtin"
)

// step parses a rules-file fragment whose first line is line 1 and returns
// the params node of its single step "- plugin: params".
func step(t *testing.T, doc string) (string, *yaml.Node) {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	var find func(n *yaml.Node) (string, *yaml.Node)
	find = func(n *yaml.Node) (string, *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "do" {
					m := n.Content[i+1].Content[0]
					return m.Content[0].Value, m.Content[1]
				}
				if name, p := find(n.Content[i+1]); p != nil {
					return name, p
				}
			}
		}
		for _, c := range n.Content {
			if name, p := find(c); p != nil {
				return name, p
			}
		}
		return "", nil
	}
	name, params := find(&root)
	if params == nil {
		t.Fatalf("no step in %q", doc)
	}
	return name, params
}

func TestRegisterAll_registers_every_builtin(t *testing.T) {
	r := plugins.NewRegistry()
	builtin.RegisterAll(r)
	want := "accept,cancel_timer,decline,forward,leave,log,reply,set,timer,transcript,unset,webhook"
	if got := strings.Join(r.Names(), ","); got != want {
		t.Fatalf("names = %s, want %s", got, want)
	}
	for _, name := range r.Names() {
		if _, err := plugins.Default.Lookup(name); err != nil {
			t.Errorf("init did not register %q in Default: %v", name, err)
		}
	}
}

func TestBuild_builds_each_builtin_from_rule_yaml(t *testing.T) {
	docs := []string{
		"do:\n  - reply: {text: \"hi {{.Participant.Name}}\"}\n",
		"do:\n  - set: {fields: {greeted: true}, templates: {topic: \"{{.Message.Text}}\"}}\n",
		"do:\n  - unset: {fields: [greeted]}\n",
		"do:\n  - accept: {}\n",
		"do:\n  - accept: {greeting: hi}\n",
		"do:\n  - decline: {}\n",
		"do:\n  - forward: {to: \"sip:bob@contoso.com\", subject: Help}\n",
		"do:\n  - webhook:\n      url: http://127.0.0.1:1/hook\n      timeout: 2s\n      backoff: 10ms\n      retries: 1\n",
		"do:\n  - log: {level: debug}\n",
		"do:\n  - leave: {message: bye}\n",
	}
	for _, doc := range docs {
		name, params := step(t, doc)
		h, err := plugins.Default.Build(name, params)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if _, ok := h.(handlers.Handler); !ok {
			t.Errorf("%s built a %T, not a Handler", name, h)
		}
		if c, ok := h.(handlers.Cleaner); ok {
			if err := c.Cleanup(); err != nil {
				t.Errorf("%s: Cleanup: %v", name, err)
			}
		}
	}
}

func TestBuild_rejects_bad_params_naming_the_line(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"unknown key", "rules:\n  - name: greet\n    do:\n      - reply:\n          text: hi\n          colour: red\n",
			[]string{"line 6", "colour"}},
		{"wrong type", "rules:\n  - name: greet\n    do:\n      - set:\n          fields: [a, b]\n",
			[]string{"line 5"}},
		{"bad duration", "rules:\n  - name: hook\n    do:\n      - webhook:\n          url: http://127.0.0.1/x\n          timeout: soon\n",
			[]string{"line 6", "soon"}},
		{"invalid config", "do:\n  - reply: {}\n", []string{`"text" or "html"`}},
		{"bad template", "do:\n  - reply: {text: \"{{.Message.Text\"}\n", []string{"reply: text"}},
		{"bad sip uri", "do:\n  - forward: {to: bob}\n", []string{"forward: to", `"bob"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name, params := step(t, tc.doc)
			_, err := plugins.Default.Build(name, params)
			if err == nil {
				t.Fatal("Build accepted bad params")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestBuild_built_reply_runs(t *testing.T) {
	name, params := step(t, "do:\n  - reply: {text: \"you said {{.Message.Text}}\"}\n")
	h, err := plugins.Default.Build(name, params)
	if err != nil {
		t.Fatal(err)
	}
	req, rec := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "hello"))
	if err := h.(handlers.Handler).Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if s := rec.Said(); len(s) != 1 || s[0] != "you said hello" {
		t.Fatalf("said %q", s)
	}
}
