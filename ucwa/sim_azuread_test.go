package ucwa_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/ucwabot/ucwabot/ucwa"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// azureAD is an Azure AD token endpoint (client credentials grant with resource=, PROTOCOL.md
// §3) whose tokens a simulator accepts through Options.VerifyBearer.
type azureAD struct {
	srv *httptest.Server

	mu        sync.Mutex
	issued    map[string]string // token → resource
	requests  int
	resources []string
}

func newAzureAD(t *testing.T, clientID, clientSecret string) *azureAD {
	a := &azureAD{issued: map[string]string{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost || r.URL.Path != "/contoso.onmicrosoft.com/oauth2/token" || r.ParseForm() != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_request"}`))
			return
		}
		id, secret, basic := r.BasicAuth()
		if !basic {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		if r.PostForm.Get("grant_type") != "client_credentials" || id != clientID || secret != clientSecret {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		a.mu.Lock()
		a.requests++
		tok := "aad-" + r.PostForm.Get("resource") + "-" + string(rune('a'+a.requests))
		a.issued[tok] = r.PostForm.Get("resource")
		a.resources = append(a.resources, r.PostForm.Get("resource"))
		a.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": tok, "token_type": "Bearer", "expires_in": 3600,
			"resource": r.PostForm.Get("resource"), "scope": "User.ReadWrite Conversations.Receive Conversations.Initiate",
		})
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func TestClient_signs_in_with_an_Azure_AD_token_source(t *testing.T) {
	aad := newAzureAD(t, "bot-app", "app-secret")
	var resource string // the simulator's base URL, known once it listens
	sim, err := ucwasim.New(ucwasim.Options{VerifyBearer: func(tok string) (string, bool) {
		aad.mu.Lock()
		defer aad.mu.Unlock()
		res, ok := aad.issued[tok]
		return botURI, ok && res == resource
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	aad.mu.Lock()
	resource = sim.URL()
	aad.mu.Unlock()
	if err := sim.AddUser(botURI, botPW, "Bot"); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddUser(aliceURI, "alice-pw", "Alice Ames"); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	src := ucwa.NewAzureADTokenSource(context.Background(), clientcredentials.Config{
		ClientID: "bot-app", ClientSecret: "app-secret",
		TokenURL: aad.srv.URL + "/contoso.onmicrosoft.com/oauth2/token",
	}, resource)
	c, err := ucwa.New(ucwa.Config{DiscoveryURL: sim.DiscoveryURL(), InsecureHTTP: true, Address: botURI, TokenSource: src, EndpointID: "ep-aad"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SignIn(ctx); err != nil {
		t.Fatal(err)
	}
	app, err := c.CreateApplication(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeMeAvailable(ctx, app, ucwa.AvailabilityOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.ReportMyActivity(ctx, app); err != nil {
		t.Fatal(err)
	}
	if av := sim.Presence(botURI); av != "Online" {
		t.Fatalf("simulator sees the bot %q", av)
	}
	aad.mu.Lock()
	requests, resources := aad.requests, aad.resources
	aad.mu.Unlock()
	if requests != 1 || resources[0] != resource {
		t.Fatalf("%d Azure AD token requests for resources %v, want 1 for %s", requests, resources, resource)
	}
	if n := countRequests(sim, "token"); n != 0 {
		t.Fatalf("%d requests to the MsRtcOAuth endpoint", n)
	}
	for _, r := range sim.Requests() {
		if r.Rel == "applications" || r.Rel == "makeMeAvailable" || r.Rel == "reportMyActivity" {
			if r.User != botURI || r.Status >= 300 {
				t.Fatalf("request %+v not served as the bot", r)
			}
		}
	}
	// A token Azure AD did not issue is refused.
	bad, err := ucwa.New(ucwa.Config{DiscoveryURL: sim.DiscoveryURL(), InsecureHTTP: true, Address: botURI, EndpointID: "ep-aad2",
		TokenSource: ucwa.NewAzureADTokenSource(context.Background(), clientcredentials.Config{
			ClientID: "bot-app", ClientSecret: "app-secret",
			TokenURL: aad.srv.URL + "/contoso.onmicrosoft.com/oauth2/token",
		}, "https://webdir0x.online.lync.com")})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.SignIn(ctx); err == nil {
		t.Fatal("signed in with a token for another resource")
	}
}
