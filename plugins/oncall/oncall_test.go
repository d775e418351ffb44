package oncall_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
	"github.com/ucwabot/ucwabot/plugins"
	_ "github.com/ucwabot/ucwabot/plugins/oncall"
)

const (
	ann = "sip:ann@contoso.com"
	bob = "sip:bob@contoso.com"
	cid = "sip:cid@contoso.com"
)

func build(t *testing.T, params string) (handlers.Handler, error) {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(params), &n); err != nil {
		t.Fatal(err)
	}
	h, err := plugins.Default.Build("oncall", n.Content[0])
	if err != nil {
		return nil, err
	}
	return h.(handlers.Handler), nil
}

func mustBuild(t *testing.T, params string) handlers.Handler {
	t.Helper()
	h, err := build(t, params)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

const engineers = `{engineers: [sip:ann@contoso.com, sip:bob@contoso.com, sip:cid@contoso.com], message: "{{.Participant.Name}}, {{.Engineer}} is coming."}`

func TestOncall_invites_the_first_available_engineer_and_records_it(t *testing.T) {
	h := mustBuild(t, engineers)
	req, rec := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "urgent: prod down"))
	rec.SetPresence(ann, "Busy")
	rec.SetPresence(bob, "Online")
	rec.SetPresence(cid, "Online")
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	want := []handlerstest.Action{{Op: "invite", To: bob}, {Op: "say", Text: "Alice, sip:bob@contoso.com is coming."}}
	if a := rec.Actions(); len(a) != 2 || a[0] != want[0] || a[1] != want[1] {
		t.Fatalf("actions = %+v, want %+v", a, want)
	}
	if got := string(req.State.Raw("oncall")); got != `"`+bob+`"` {
		t.Fatalf("state oncall = %s", got)
	}
}

func TestOncall_does_not_invite_twice_in_one_conversation(t *testing.T) {
	h := mustBuild(t, engineers)
	req, rec := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "still down"))
	rec.SetPresence(ann, "Online")
	_ = req.State.Set("oncall", bob)
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if a := rec.Actions(); len(a) != 1 || a[0] != (handlerstest.Action{Op: "say", Text: bob + " is already on it."}) {
		t.Fatalf("actions = %+v", a)
	}
}

func TestOncall_skips_an_engineer_whose_invitation_fails(t *testing.T) {
	h := mustBuild(t, `{engineers: [sip:ann@contoso.com]}`)
	req, rec := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "help"))
	rec.SetPresence(ann, "Online")
	rec.Fail("invite", errors.New("403 Forbidden"))
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if s := rec.Said(); len(s) != 1 || s[0] != "Nobody on call is available right now. Please try again later." {
		t.Fatalf("said %q", s)
	}
	if req.State.Changed() {
		t.Fatal("a failed invitation was recorded")
	}
}

func TestOncall_falls_back_and_subscribes_once_to_unknown_presence(t *testing.T) {
	h := mustBuild(t, `{engineers: [sip:ann@contoso.com, sip:bob@contoso.com], fallback: "Nobody around."}`)
	for i := 0; i < 2; i++ {
		req, rec := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "help"))
		rec.SetPresence(ann, "Away")
		if err := h.Handle(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		var ops []string
		for _, a := range rec.Actions() {
			ops = append(ops, a.Op+" "+a.To+a.Text)
		}
		want := "subscribe " + bob + ",say Nobody around."
		if i == 1 {
			want = "say Nobody around."
		}
		if got := strings.Join(ops, ","); got != want {
			t.Fatalf("request %d: actions = %s, want %s", i, got, want)
		}
	}
}

func TestOncall_rejects_bad_params(t *testing.T) {
	cases := []struct{ params, want string }{
		{`{}`, `"engineers" is required`},
		{`{engineers: [ann]}`, "engineers[0]"},
		{`{engineers: [sip:a@b.c, sip:a@b.c]}`, "listed twice"},
		{`{engineers: [sip:a@b.c], message: "{{"}`, "oncall: message"},
		{`{engineers: [sip:a@b.c], pager: x}`, "pager"},
	}
	for _, tc := range cases {
		if _, err := build(t, tc.params); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.params, err, tc.want)
		}
	}
}
