package simctl_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/simctl"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

func start(t *testing.T) *simctl.Client {
	t.Helper()
	sim, err := ucwasim.New(ucwasim.Options{InviteWait: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	mux := http.NewServeMux()
	mux.Handle(simctl.Prefix, simctl.Handler(sim))
	mux.Handle("/", sim.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &simctl.Client{Base: srv.URL}
}

func TestControl_adds_users_and_sets_presence(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	if err := c.AddUser(ctx, "sip:alice@contoso.com", "Alice", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.AddUser(ctx, "sip:alice@contoso.com", "Alice", ""); err == nil {
		t.Errorf("adding alice twice: no error")
	}
	if err := c.SetPresence(ctx, "sip:alice@contoso.com", "Busy"); err != nil {
		t.Fatal(err)
	}
	got, err := c.Presence(ctx, "sip:alice@contoso.com")
	if err != nil || got != "Busy" {
		t.Errorf("presence = %q, %v; want Busy", got, err)
	}
}

func TestControl_reports_why_an_action_fails(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	for _, u := range []string{"sip:alice@contoso.com", "sip:bot@contoso.com"} {
		if err := c.AddUser(ctx, u, "", "pw"); err != nil {
			t.Fatal(err)
		}
	}
	// The bot has not signed in, so nobody can invite it.
	_, err := c.Invite(ctx, "sip:alice@contoso.com", "sip:bot@contoso.com", "hi")
	if err == nil || !strings.Contains(err.Error(), "409") || !strings.Contains(err.Error(), "sip:bot@contoso.com") {
		t.Errorf("invite of an absent bot: %v", err)
	}
	err = c.Say(ctx, "nope", "sip:alice@contoso.com", "hi")
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), `no conversation "nope"`) {
		t.Errorf("say in an unknown conversation: %v", err)
	}
}

func TestControl_refuses_a_body_with_more_than_one_JSON_value(t *testing.T) {
	c := start(t)
	for _, body := range []string{`{"uri":"sip:carol@contoso.com"} {"uri":"sip:dave@contoso.com"}`, `{"uri":"sip:carol@contoso.com"}x`} {
		resp, err := http.Post(c.Base+"/_sim/users", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST /_sim/users %s: %d, want 400", body, resp.StatusCode)
		}
	}
	// Neither body added carol.
	if err := c.AddUser(context.Background(), "sip:carol@contoso.com", "Carol", ""); err != nil {
		t.Errorf("carol was added by a refused body: %v", err)
	}
}
