package simctl_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/simctl"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// fuzzPosts are the control API's POST routes.
var fuzzPosts = []string{"users", "invite", "join", "say", "leave", "hangup", "presence", "faults",
	"resync", "resume", "revoke", "kill", "expire"}

// FuzzControlRequest posts fuzzed bodies to every POST route of the
// simulator's control API. It checks that the API never panics and never
// answers 5xx; that a body that is not one JSON value is refused; that a
// refusal says why; and that a refused body changes
// nothing the API shows (faults, conversations, presence).
func FuzzControlRequest(f *testing.F) {
	for i := range fuzzPosts {
		for _, b := range []string{
			`{"uri":"sip:carol@contoso.com","name":"Carol","password":"pw"}`,
			`{"from":"sip:alice@contoso.com","to":"sip:bot@contoso.com","text":"Hi"}`,
			`{"conversation":"c1","uri":"sip:alice@contoso.com","text":"Hi"}`,
			`{"uri":"sip:alice@contoso.com","availability":"Busy"}`,
			`{"rel":"events","status":503,"retryAfter":"1s","times":1}`,
			`{"rel":"events","status":503,"retryAfter":"-1s"}`,
			`{"method":"POST","drop":true,"rate":0.5}`,
			`{"uri":"sip:bot@contoso.com"}`,
			`{"uri":"sip:alice@contoso.com","extra":1}`,
			`{"uri":`, ``, `null`, `[]`, `{"uri":"a"} {"uri":"b"}`, `{"URI":"sip:alice@contoso.com","Availability":"Away"}`,
		} {
			f.Add(uint8(i), []byte(b))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		sim, err := ucwasim.New(ucwasim.Options{InviteWait: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer sim.Close()
		for _, u := range []string{"sip:bot@contoso.com", "sip:alice@contoso.com"} {
			if err := sim.AddUser(u, "pw", ""); err != nil {
				t.Fatal(err)
			}
		}
		h := simctl.Handler(sim)
		before := controlState(t, h)

		path := "/_sim/" + fuzzPosts[int(route)%len(fuzzPosts)]
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "127.0.0.1:50000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch {
		case w.Code < 400 && !json.Valid(body):
			t.Fatalf("POST %s %q: %d: a body that is not one JSON value is taken", path, body, w.Code)
		case w.Code >= 500:
			t.Fatalf("POST %s %q: %d %s", path, body, w.Code, w.Body)
		case w.Code >= 400 && len(bytes.TrimSpace(w.Body.Bytes())) == 0:
			t.Fatalf("POST %s %q: %d without a reason", path, body, w.Code)
		case w.Code >= 400:
			if after := controlState(t, h); after != before {
				t.Fatalf("POST %s %q: %d %s, and the simulator changed:\nbefore %s\nafter  %s", path, body, w.Code, w.Body, before, after)
			}
		}
	})
}

// controlState is what the control API shows of the simulator.
func controlState(t *testing.T, h http.Handler) string {
	var out bytes.Buffer
	for _, p := range []string{"faults", "conversations", "presence?uri=sip:alice@contoso.com", "presence?uri=sip:bot@contoso.com",
		"presence?uri=sip:carol@contoso.com", "sent?bot=sip:bot@contoso.com"} {
		req := httptest.NewRequest(http.MethodGet, "/_sim/"+p, nil)
		req.RemoteAddr = "127.0.0.1:50000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("GET /_sim/%s: %d %s", p, w.Code, w.Body)
		}
		out.WriteString(p + " " + w.Body.String())
	}
	return out.String()
}
