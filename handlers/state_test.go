package handlers_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
)

func TestSet_writes_fields_and_rendered_templates(t *testing.T) {
	h, err := handlers.NewSet(handlers.SetConfig{
		Fields:    map[string]any{"greeted": true, "step": 2, "tags": []any{"a", "b"}},
		Templates: map[string]string{"topic": "{{.Message.Text}}"},
	})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "{{printer broken}}"))
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	set, _ := req.State.Changes()
	want := map[string]string{"greeted": "true", "step": "2", "tags": `["a","b"]`, "topic": `"{{printer broken}}"`}
	if len(set) != len(want) {
		t.Fatalf("set = %v", set)
	}
	for k, v := range want {
		if string(set[k]) != v {
			t.Errorf("%s = %s, want %s", k, set[k], v)
		}
	}
}

func TestUnset_removes_named_fields_or_all(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  handlers.UnsetConfig
		left []string
	}{
		{"named", handlers.UnsetConfig{Fields: []string{"a", "missing"}}, []string{"b"}},
		{"all", handlers.UnsetConfig{All: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := handlers.NewUnset(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "x"))
			_ = req.State.Set("a", 1)
			_ = req.State.Set("b", 2)
			if err := h.Handle(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(req.State.Names(), ","); got != strings.Join(tc.left, ",") {
				t.Fatalf("left = %q, want %q", got, tc.left)
			}
		})
	}
}

func TestSetAndUnsetConfig_Validate(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"set nothing", (&handlers.SetConfig{}).Validate(), `"fields" or "templates" is required`},
		{"set empty name", (&handlers.SetConfig{Fields: map[string]any{"": 1}}).Validate(), "empty field name"},
		{"set unencodable", (&handlers.SetConfig{Fields: map[string]any{"f": func() {}}}).Validate(), "fields.f"},
		{"set both", (&handlers.SetConfig{Fields: map[string]any{"f": 1}, Templates: map[string]string{"f": "x"}}).Validate(), "both"},
		{"set bad template", (&handlers.SetConfig{Templates: map[string]string{"t": "{{"}}).Validate(), "templates.t"},
		{"unset nothing", (&handlers.UnsetConfig{}).Validate(), `"fields" or "all: true" is required`},
		{"unset both", (&handlers.UnsetConfig{Fields: []string{"a"}, All: true}).Validate(), "not both"},
		{"unset empty name", (&handlers.UnsetConfig{Fields: []string{""}}).Validate(), "empty field name"},
	}
	for _, tc := range cases {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, tc.err, tc.want)
		}
	}
}
