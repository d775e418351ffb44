package handlers_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
)

func TestForward_starts_a_conversation_or_says_in_this_one(t *testing.T) {
	cases := []struct {
		name string
		cfg  handlers.ForwardConfig
		want handlerstest.Action
	}{
		{"to a person with the default text", handlers.ForwardConfig{To: "sip:bob@contoso.com", Subject: "Helpdesk"},
			handlerstest.Action{Op: "start", To: "sip:bob@contoso.com", Subject: "Helpdesk", Text: "Alice: printer on fire"}},
		{"to the conversation with a template", handlers.ForwardConfig{Text: "{{.Participant.URI}} wrote {{.Message.Text}}"},
			handlerstest.Action{Op: "say", Text: "sip:alice@contoso.com wrote printer on fire"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := handlers.NewForward(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			req, rec := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "printer on fire"))
			if err := h.Handle(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			if a := rec.Actions(); len(a) != 1 || a[0] != tc.want {
				t.Fatalf("actions = %+v, want %+v", a, tc.want)
			}
		})
	}
}

func TestForwardConfig_Validate(t *testing.T) {
	cases := []struct {
		cfg  handlers.ForwardConfig
		want string
	}{
		{handlers.ForwardConfig{To: "bob@contoso.com"}, "forward: to"},
		{handlers.ForwardConfig{To: "sip:bob"}, "not a SIP URI"},
		{handlers.ForwardConfig{To: "sip:@contoso.com"}, "not a SIP URI"},
		{handlers.ForwardConfig{Subject: "x"}, `"subject" needs "to"`},
		{handlers.ForwardConfig{Text: "{{end}}"}, "forward: text"},
	}
	for _, tc := range cases {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: Validate() = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
