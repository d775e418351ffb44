package shout_test

import (
	"context"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	_ "github.com/ucwabot/ucwabot/examples/customplugin/shout"
	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
	"github.com/ucwabot/ucwabot/plugins"
)

func build(t *testing.T, params string) (handlers.Handler, error) {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(params), &n); err != nil {
		t.Fatal(err)
	}
	h, err := plugins.Default.Build("shout", n.Content[0])
	if err != nil {
		return nil, err
	}
	return h.(handlers.Handler), nil
}

func TestShout_unit(t *testing.T) {
	h, err := build(t, `{suffix: "!"}`)
	if err != nil {
		t.Fatal(err)
	}
	req, rec := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "hello"))
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if s := rec.Said(); len(s) != 1 || s[0] != "HELLO!" {
		t.Fatalf("said %q", s)
	}
	if _, err := build(t, `{suffix: "!!!!!!!!!!!!!!!"}`); err == nil || !strings.Contains(err.Error(), "suffix") {
		t.Fatalf("err = %v", err)
	}
	if _, err := build(t, `{sufix: "!"}`); err == nil || !strings.Contains(err.Error(), "sufix") {
		t.Fatalf("err = %v", err)
	}
}
