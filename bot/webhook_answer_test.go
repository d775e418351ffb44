package bot

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ucwabot/ucwabot/store"
)

// Issue 12: a webhook step's answer reaches the next steps and later
// events through the state (save_as), so a rule replies "ticket INC-123
// opened" without Go code; a failure runs the rule's on_error steps
// instead of the rest of do.
func TestEngine_a_webhook_answer_appears_in_the_reply_and_a_failure_runs_on_error(t *testing.T) {
	var calls atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id": "INC-123", "queue": "network"}`))
	}))
	defer hook.Close()
	set := loadBuiltinRules(t, `
rules:
  - name: ticket
    on: [message.received]
    do:
      - webhook: {url: "`+hook.URL+`", save_as: ticket, retries: -1}
      - reply: {text: "ticket {{.State.ticket.id}} opened in {{.State.ticket.queue}}"}
    on_error:
      - reply: {text: "no ticket this time ({{.Error}})"}
`)
	sim := newSim(t, 1)
	st := tempBolt(t)
	start(t, testConfig(sim), st, set)
	conv, err := sim.Invite(aliceURI, botURI, "VPN is down")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "ticket INC-123 opened in network")
	if err := conv.Say(aliceURI, "and the wiki"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the on_error reply", func() bool { return len(botSaid(sim, conv.ID())) == 2 })
	got := botSaid(sim, conv.ID())[1]
	if !strings.HasPrefix(got, "no ticket this time (webhook: 1 attempt(s): webhook ") || !strings.Contains(got, "HTTP 500") {
		t.Fatalf("on_error reply %q", got)
	}
	if strings.Contains(got, "opened") {
		t.Fatalf("the rest of do ran after the failure: %q", got)
	}
	waitUntil(t, "the state stored", func() bool { return strings.Contains(string(storedState(t, st, conv.ID())["ticket"]), "INC-123") })
}

// storedState returns the stored state of the simulator's conversation
// simID (the engine names conversations by their URL), nil when none.
func storedState(t *testing.T, st interface {
	Conversations(ctx context.Context, account string) ([]string, error)
	LoadState(ctx context.Context, account, conv string) (store.Fields, error)
}, simID string) store.Fields {
	t.Helper()
	ids, err := st.Conversations(context.Background(), botURI)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if strings.HasSuffix(id, "/"+simID) {
			f, err := st.LoadState(context.Background(), botURI, id)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return nil
}
