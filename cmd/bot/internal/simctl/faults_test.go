package simctl_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/simctl"
)

const botURI = "sip:bot@contoso.com"

// bot is a raw HTTP client signed in to the simulator with an application.
type bot struct {
	t     *testing.T
	base  string
	token string
	app   string // application path
}

func (b *bot) do(method, path, body string) (*http.Response, string, error) {
	req, _ := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data), nil
}

func (b *bot) status(method, path, body string) (int, http.Header, string) {
	b.t.Helper()
	resp, data, err := b.do(method, path, body)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, data
}

// signedIn starts the simulator with its control routes, a bot that made itself available,
// and alice.
func signedIn(t *testing.T) (*simctl.Client, *bot) {
	t.Helper()
	c := start(t)
	ctx := context.Background()
	if err := c.AddUser(ctx, botURI, "", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := c.AddUser(ctx, "sip:alice@contoso.com", "", ""); err != nil {
		t.Fatal(err)
	}
	b := &bot{t: t, base: c.Base}
	form := url.Values{"grant_type": {"password"}, "username": {"bot@contoso.com"}, "password": {"pw"}}
	resp, err := http.PostForm(c.Base+"/WebTicket/oauthtoken", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	b.token = tok.AccessToken
	st, h, body := b.status("POST", "/ucwa/oauth/v1/applications", `{"userAgent":"t","endpointId":"e","culture":"en-US"}`)
	if st != 201 {
		t.Fatalf("create application: %d %s", st, body)
	}
	b.app = h.Get("Location")
	if st, _, body := b.status("POST", b.app+"/me/makeMeAvailable", `{}`); st != 204 {
		t.Fatalf("makeMeAvailable: %d %s", st, body)
	}
	return c, b
}

func TestControl_injects_each_fault_over_HTTP(t *testing.T) {
	for _, tc := range []struct {
		name   string
		spec   simctl.FaultSpec
		status int
		check  func(t *testing.T, h http.Header, body string)
	}{
		{"401 with the challenge", simctl.FaultSpec{Status: 401}, 401, func(t *testing.T, h http.Header, _ string) {
			if !strings.Contains(strings.Join(h.Values("WWW-Authenticate"), " "), "MsRtcOAuth") {
				t.Errorf("no challenge: %v", h)
			}
		}},
		{"403 InvalidToken", simctl.FaultSpec{Status: 403, Subcode: "InvalidToken"}, 403, func(t *testing.T, h http.Header, _ string) {
			if !strings.Contains(h.Get("Warning"), "InvalidToken") || h.Get("WWW-Authenticate") == "" {
				t.Errorf("headers = %v", h)
			}
		}},
		{"404 ApplicationNotFound", simctl.FaultSpec{Status: 404, Subcode: "ApplicationNotFound"}, 404, subcode("NotFound", "ApplicationNotFound")},
		{"410", simctl.FaultSpec{Status: 410, Subcode: "InactiveApplicationExpired"}, 410, subcode("Gone", "InactiveApplicationExpired")},
		{"409 MakeMeAvailableRequired", simctl.FaultSpec{Status: 409, Subcode: "MakeMeAvailableRequired"}, 409, subcode("Conflict", "MakeMeAvailableRequired")},
		{"429 Retry-After", simctl.FaultSpec{Status: 429, RetryAfter: "3s"}, 429, retryAfter("3")},
		{"503 Retry-After", simctl.FaultSpec{Status: 503, RetryAfter: "1500ms"}, 503, retryAfter("2")},
		{"500", simctl.FaultSpec{Status: 500}, 500, subcode("ServiceFailure", "")},
		{"503 HTML page", simctl.FaultSpec{Status: 503, HTML: true}, 503, func(t *testing.T, h http.Header, body string) {
			if h.Get("Content-Type") != "text/html" || !strings.Contains(body, "<html>") {
				t.Errorf("answer = %v %s", h, body)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, b := signedIn(t)
			spec := tc.spec
			spec.Rel, spec.User = "application", botURI
			if _, err := c.InjectFault(context.Background(), spec); err != nil {
				t.Fatal(err)
			}
			st, h, body := b.status("GET", b.app, "")
			if st != tc.status {
				t.Fatalf("status %d, want %d: %s", st, tc.status, body)
			}
			tc.check(t, h, body)
			if st, _, _ := b.status("GET", b.app, ""); st != 200 {
				t.Errorf("a one-shot fault hit twice: %d", st)
			}
		})
	}
}

func subcode(code, sub string) func(*testing.T, http.Header, string) {
	return func(t *testing.T, _ http.Header, body string) {
		var e struct{ Code, Subcode string }
		_ = json.Unmarshal([]byte(body), &e)
		if e.Code != code || e.Subcode != sub {
			t.Errorf("body = %s, want code %s subcode %q", body, code, sub)
		}
	}
}

func retryAfter(want string) func(*testing.T, http.Header, string) {
	return func(t *testing.T, h http.Header, _ string) {
		if got := h.Get("Retry-After"); got != want {
			t.Errorf("Retry-After = %q, want %q", got, want)
		}
	}
}

func TestControl_delays_drops_and_answers_after_serving(t *testing.T) {
	c, b := signedIn(t)
	ctx := context.Background()
	if _, err := c.InjectFault(ctx, simctl.FaultSpec{Path: "/ucwa/oauth/v1/applications/*", Delay: "100ms"}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if st, _, _ := b.status("GET", b.app, ""); st != 200 || time.Since(t0) < 100*time.Millisecond {
		t.Errorf("delayed request: %d after %v", st, time.Since(t0))
	}
	if _, err := c.InjectFault(ctx, simctl.FaultSpec{Path: "*/ME", Drop: true}); err != nil {
		t.Fatal(err)
	}
	// A fresh connection: the transport retries a GET whose reused connection was closed.
	req, _ := http.NewRequest("GET", b.base+b.app+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+b.token)
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := fresh.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("dropped connection answered %d", resp.StatusCode)
	}
	// The server takes the presence change, the client gets 502.
	if _, err := c.InjectFault(ctx, simctl.FaultSpec{Rel: "presence", Method: "POST", Status: 502, AfterServe: true}); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := b.status("POST", b.app+"/me/presence", `{"availability":"Busy"}`); st != 502 {
		t.Errorf("after-serve fault status = %d", st)
	}
	if p, _ := c.Presence(ctx, botURI); p != "Busy" {
		t.Errorf("the request was not served before the fault: presence %s", p)
	}
	reqs, err := c.Requests(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	faulted := 0
	for _, r := range reqs {
		if r.Fault != 0 {
			faulted++
		}
	}
	if faulted != 3 {
		t.Errorf("%d requests marked faulted in the log, want 3: %+v", faulted, reqs)
	}
}

func TestControl_rates_counts_listing_and_clearing(t *testing.T) {
	c, b := signedIn(t)
	ctx := context.Background()
	id, err := c.InjectFault(ctx, simctl.FaultSpec{Rel: "application", Status: 500, Rate: 0.25, Times: -1})
	if err != nil {
		t.Fatal(err)
	}
	hits := 0
	for i := 0; i < 400; i++ {
		if st, _, _ := b.status("GET", b.app, ""); st == 500 {
			hits++
		}
	}
	if hits < 60 || hits > 140 {
		t.Errorf("rate 0.25 hit %d of 400", hits)
	}
	list, err := c.Faults(ctx)
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].Hits != hits || list[0].Left != -1 || list[0].Fault.Rate != 0.25 {
		t.Fatalf("faults = %+v, %v (hits %d)", list, err, hits)
	}
	if err := c.ClearFaults(ctx, id+1); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("clearing an unknown fault: %v", err)
	}
	if err := c.ClearFaults(ctx, id); err != nil {
		t.Fatal(err)
	}
	if list, _ := c.Faults(ctx); len(list) != 0 {
		t.Errorf("faults after clear = %+v", list)
	}
	for _, bad := range []simctl.FaultSpec{{Status: 42}, {Status: 500, Rate: 2}, {Action: "explode"}, {Rel: "events"}, {Status: 500, Delay: "soon"}} {
		if _, err := c.InjectFault(ctx, bad); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("fault %+v accepted: %v", bad, err)
		}
	}
}

func TestControl_actions_on_the_bots_applications(t *testing.T) {
	for _, tc := range []struct {
		action string
		status int
		want   string // in the answer to GET application (or the P-GET for resync, resume)
	}{
		{"kill", 404, "ApplicationNotFound"},
		{"expire", 410, "InactiveApplicationExpired"},
		{"revoke", 401, "401"},
		{"resync", 200, `"resync"`},
		{"resume", 200, `"resume"`},
	} {
		t.Run(tc.action, func(t *testing.T) {
			c, b := signedIn(t)
			if err := c.Act(context.Background(), tc.action, botURI); err != nil {
				t.Fatal(err)
			}
			path := b.app
			if tc.action == "resync" || tc.action == "resume" {
				path += "/events?ack=1&timeout=1"
			}
			st, _, body := b.status("GET", path, "")
			if st != tc.status || !strings.Contains(body, tc.want) {
				t.Errorf("after %s: %d %s", tc.action, st, body)
			}
		})
	}
	t.Run("as a fault with a path pattern", func(t *testing.T) {
		c, b := signedIn(t)
		if _, err := c.InjectFault(context.Background(), simctl.FaultSpec{Path: "*/reportMyActivity", Action: "kill"}); err != nil {
			t.Fatal(err)
		}
		if st, _, _ := b.status("GET", b.app, ""); st != 200 {
			t.Fatalf("a request off the pattern was hit: %d", st)
		}
		if st, _, body := b.status("POST", b.app+"/me/reportMyActivity", "{}"); st != 404 || !strings.Contains(body, "ApplicationNotFound") {
			t.Errorf("reportMyActivity after the kill action: %d %s", st, body)
		}
	})
}

func TestControl_drives_traffic_and_lists_what_the_bot_sent(t *testing.T) {
	c, b := signedIn(t)
	ctx := context.Background()
	if err := c.AddUser(ctx, "sip:bob@contoso.com", "", ""); err != nil {
		t.Fatal(err)
	}
	conv, err := c.Invite(ctx, "sip:alice@contoso.com", botURI, "hello")
	if err != nil {
		t.Fatal(err)
	}
	// The bot accepts through UCWA: find the invitation in its events.
	_, _, events := b.status("GET", b.app+"/events?ack=1&timeout=1", "")
	i := strings.Index(events, `/messagingInvitations/`)
	if i < 0 {
		t.Fatalf("no invitation in %s", events)
	}
	inv := events[i : i+strings.IndexByte(events[i:], '"')]
	inv = strings.TrimSuffix(strings.TrimSuffix(inv, "/accept"), "/decline")
	if st, _, body := b.status("POST", b.app+"/communication"+inv+"/accept", ""); st != 204 {
		t.Fatalf("accept: %d %s", st, body)
	}
	if err := c.Join(ctx, conv, "sip:bob@contoso.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Say(ctx, conv, "sip:bob@contoso.com", "hi"); err != nil {
		t.Fatal(err)
	}
	if err := c.Leave(ctx, conv, "sip:bob@contoso.com"); err != nil {
		t.Fatal(err)
	}
	list, err := c.Conversations(ctx, botURI)
	if err != nil || len(list) != 1 || list[0].ID != conv || list[0].State != "Connected" {
		t.Fatalf("conversations = %+v, %v", list, err)
	}
	for _, text := range []string{"one", "two"} {
		req, _ := http.NewRequest("POST", c.Base+b.app+"/communication/conversations/"+conv+"/messaging/messages", strings.NewReader(text))
		req.Header.Set("Authorization", "Bearer "+b.token)
		req.Header.Set("Content-Type", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("sendMessage %s: %v %v", text, resp, err)
		}
		resp.Body.Close()
	}
	sent, err := c.SentFrom(ctx, botURI, 1)
	if err != nil || len(sent) != 1 || sent[0].Text != "two" || sent[0].Conversation != conv {
		t.Errorf("sent from 1 = %+v, %v", sent, err)
	}
	if all, _ := c.Sent(ctx, botURI); len(all) != 2 {
		t.Errorf("sent = %+v", all)
	}
}
