package handlers_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
)

func TestReply_renders_text_and_html_templates_over_the_event(t *testing.T) {
	cases := []struct {
		name string
		cfg  handlers.ReplyConfig
		text string
		want handlerstest.Action
	}{
		{"text with event fields", handlers.ReplyConfig{Text: "Hi {{.Participant.Name}}, you said {{.Message.Text}}"}, "help",
			handlerstest.Action{Op: "say", Text: "Hi Alice, you said help"}},
		{"text through .Event and funcs", handlers.ReplyConfig{Text: "{{.Event.Kind}} {{upper .Message.Text}} {{.Rule.Name}}"}, "ok",
			handlerstest.Action{Op: "say", Text: "message.received OK test"}},
		{"html escapes the user's text", handlers.ReplyConfig{HTML: "<b>{{.Message.Text}}</b>"}, "<script>x</script>",
			handlerstest.Action{Op: "html", Text: "<b>&lt;script&gt;x&lt;/script&gt;</b>"}},
		{"the user's text is never a template", handlers.ReplyConfig{Text: "echo: {{.Message.Text}}"}, "{{.Account}} {{printf \"%s\" 1}}",
			handlerstest.Action{Op: "say", Text: "echo: {{.Account}} {{printf \"%s\" 1}}"}},
		{"state is readable", handlers.ReplyConfig{Text: "step {{.State.step}}{{default \"\" .State.missing}}"}, "x",
			handlerstest.Action{Op: "say", Text: "step 3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := handlers.NewReply(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			req, rec := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", tc.text))
			if err := req.State.Set("step", 3); err != nil {
				t.Fatal(err)
			}
			if err := h.Handle(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			got := rec.Actions()
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("actions = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestReply_types_first_and_sends_nothing_for_an_empty_result(t *testing.T) {
	h, err := handlers.NewReply(handlers.ReplyConfig{Text: "{{if .State.greeted}}{{else}}hello{{end}}", Typing: true})
	if err != nil {
		t.Fatal(err)
	}
	req, rec := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "x"))
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if a := rec.Actions(); len(a) != 2 || a[0].Op != "typing" || a[1].Text != "hello" {
		t.Fatalf("actions = %+v", a)
	}
	req, rec = handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "x"))
	_ = req.State.Set("greeted", true)
	if err := h.Handle(context.Background(), req); err != nil || len(rec.Actions()) != 0 {
		t.Fatalf("err = %v, actions = %+v; want nothing sent", err, rec.Actions())
	}
}

func TestReplyConfig_Validate(t *testing.T) {
	cases := []struct {
		name string
		cfg  handlers.ReplyConfig
		want string
	}{
		{"neither", handlers.ReplyConfig{}, `one of "text" or "html" is required`},
		{"both", handlers.ReplyConfig{Text: "a", HTML: "b"}, "not both"},
		{"bad text template", handlers.ReplyConfig{Text: "{{.Message.Text"}, "reply: text"},
		{"bad html template", handlers.ReplyConfig{HTML: "{{if}}"}, "reply: html"},
		{"unknown function", handlers.ReplyConfig{Text: "{{shout .Message.Text}}"}, `"shout" not defined`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
			if _, err := handlers.NewReply(tc.cfg); err == nil {
				t.Fatal("NewReply accepted an invalid config")
			}
		})
	}
}
