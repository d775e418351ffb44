package ucwa

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const secret = "s3cr3t-P@ss"

func TestParseChallenges(t *testing.T) {
	cases := []struct {
		name   string
		values []string
		url    string
		grants int
		authz  string
		ok     bool
	}{
		{"two headers quoted", []string{
			`Bearer trusted_issuers="00000002-0000-0ff1-ce00-000000000000@contoso.com", client_id="00000004-0000-0ff1-ce00-000000000000"`,
			`MsRtcOAuth href="https://lyncweb.contoso.com/WebTicket/oauthtoken",grant_type="urn:microsoft.rtc:windows,urn:microsoft.rtc:anonmeeting,password"`},
			"https://lyncweb.contoso.com/WebTicket/oauthtoken", 3, "", true},
		{"unquoted href", []string{`MsRtcOAuth href=https://lyncweb.contoso.com/WebTicket/oauthtoken,grant_type="password"`},
			"https://lyncweb.contoso.com/WebTicket/oauthtoken", 1, "", true},
		{"both in one value", []string{`Bearer authorization_uri="https://login.windows.net/common/oauth2/authorize", MsRtcOAuth href="/t",grant_type="password"`},
			"/t", 1, "https://login.windows.net/common/oauth2/authorize", true},
		{"lower-case scheme and spaces", []string{`msrtcoauth  HREF = "https://x/t" , grant_type = "password"`},
			"https://x/t", 1, "", true},
		{"a quoted value that reads like a scheme", []string{`MsRtcOAuth href="https://x/t, Bearer authorization_uri=y",grant_type="password"`},
			"https://x/t, Bearer authorization_uri=y", 1, "", true},
		{"a quoted value that reads like a parameter", []string{`MsRtcOAuth realm="a href=https://evil.example/t", href="https://x/t"`},
			"https://x/t", 0, "", true},
		{"the last endpoint with its own grant types", []string{`MsRtcOAuth href="https://a/t",grant_type="password"`,
			`MsRtcOAuth href="https://b/t",grant_type="urn:microsoft.rtc:windows"`}, "https://b/t", 1, "", true},
		{"none", []string{`Negotiate`, `Basic realm="x"`}, "", 0, "", false},
		{"empty", nil, "", 0, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch, ok := parseChallenges(c.values)
			if ok != c.ok || ch.TokenURL != c.url || len(ch.GrantTypes) != c.grants || ch.AuthorizationURI != c.authz {
				t.Fatalf("got %+v %v", ch, ok)
			}
		})
	}
	if (challenge{GrantTypes: []string{"urn:microsoft.rtc:windows"}}).allowsPassword() {
		t.Error("windows-only challenge allows password")
	}
}

func TestConfig_never_prints_the_password(t *testing.T) {
	cfg := Config{Address: "sip:bot@contoso.com", Password: secret, EndpointID: "e"}
	cfg.TokenSource = NewPasswordTokenSource(context.Background(), nil, "https://x/t", "bot", secret)
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v %s %q", cfg, cfg, cfg, cfg, cfg),
		fmt.Sprintf("%v %+v %#v", &cfg, &cfg, &cfg),
		fmt.Sprint(cfg.TokenSource), fmt.Sprintf("%#v %+v", cfg.TokenSource, cfg.TokenSource),
		cfg.String(), cfg.GoString(),
	} {
		if strings.Contains(s, secret) {
			t.Fatalf("password printed: %s", s)
		}
		if !strings.Contains(s, "redacted") && !strings.Contains(s, "passwordTokenSource") {
			t.Fatalf("unexpected rendering: %s", s)
		}
	}
	c, err := New(Config{Address: "sip:bot@contoso.com", Password: secret, EndpointID: "e"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.TokenSource().Token(); !errors.Is(err, ErrNotSignedIn) {
		t.Fatal(err)
	}
	c.setTokenURL("https://x/t")
	if s := fmt.Sprintf("%v %+v %#v %s %v %+v %#v", c.cfg, c, c, c, c.TokenSource(), c.TokenSource(), c.tokens.src); strings.Contains(s, secret) {
		t.Fatalf("password printed: %s", s)
	}
}

func TestNew_validates(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no address":  {Password: "p", EndpointID: "e"},
		"no password": {Address: "bot@x.com", EndpointID: "e"},
		"no domain":   {Address: "bot", Password: "p", EndpointID: "e"},
		"no endpoint": {Address: "bot@x.com", Password: "p"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c, err := New(Config{Address: "sip:bot@x.com", Password: "p", EndpointID: "e"})
	if err != nil || c.cfg.Username != "bot@x.com" || c.cfg.Culture != "en-US" || !strings.HasPrefix(c.cfg.UserAgent, "ucwabot/") {
		t.Fatalf("%v %+v", err, c.cfg)
	}
	if got := c.roots(); len(got) != 4 || got[0] != "https://lyncdiscoverinternal.x.com" || got[1] != "https://lyncdiscover.x.com" ||
		got[2] != "http://lyncdiscoverinternal.x.com" || got[3] != "http://lyncdiscover.x.com" {
		t.Errorf("roots = %v", got)
	}
}

func TestPasswordTokenSource(t *testing.T) {
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "password" || r.PostForm.Get("username") != "bot@contoso.com" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.PostForm.Get("password") {
		case secret:
			fmt.Fprint(w, `{"access_token":"cwt=AAEBHAA","expires_in":28289,"ms_rtc_identityscope":"local","token_type":"Bearer"}`)
		case "boom":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "<html><title>Service Unavailable</title></html>")
		default:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
		}
	}))
	defer ts.Close()
	tok, err := NewPasswordTokenSource(context.Background(), ts.Client(), ts.URL+"/WebTicket/oauthtoken", "bot@contoso.com", secret).Token()
	if err != nil || !strings.HasPrefix(tok.AccessToken, "cwt=") || time.Until(tok.Expiry) < 7*time.Hour {
		t.Fatalf("%v %+v", err, tok)
	}
	for pw, want := range map[string]error{"wrong-" + secret: ErrInvalidGrant} {
		_, err := NewPasswordTokenSource(context.Background(), ts.Client(), ts.URL+"/t?x=1", "bot@contoso.com", pw).Token()
		if !errors.Is(err, want) || strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), secret) {
			t.Fatalf("err = %v", err)
		}
	}
	_, err = NewPasswordTokenSource(context.Background(), ts.Client(), ts.URL+"/t", "bot@contoso.com", "boom").Token()
	if !IsTransient(err) || errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("err = %v", err)
	}
	ts.Close()
	_, err = NewPasswordTokenSource(context.Background(), ts.Client(), ts.URL+"/t", "bot@contoso.com", secret).Token()
	if err == nil || !IsTransient(err) || strings.Contains(err.Error(), secret) {
		t.Fatalf("closed server: %v", err)
	}
}

type countingSource struct {
	n        atomic.Int32
	lifetime time.Duration
}

func (s *countingSource) Token() (*oauth2.Token, error) {
	n := s.n.Add(1)
	return &oauth2.Token{AccessToken: fmt.Sprintf("cwt=%d", n), Expiry: time.Now().Add(s.lifetime)}, nil
}

func TestTokenCache_renews_before_expiry_and_on_invalidate(t *testing.T) {
	src := &countingSource{lifetime: time.Hour}
	tc := newTokenCache(src)
	a, _ := tc.Token()
	b, _ := tc.Token()
	if a.AccessToken != "cwt=1" || b.AccessToken != "cwt=1" {
		t.Fatalf("not reused: %s %s", a.AccessToken, b.AccessToken)
	}
	tc.Invalidate("cwt=other")
	if b, _ = tc.Token(); b.AccessToken != "cwt=1" {
		t.Fatal("invalidating another token dropped the current one")
	}
	tc.Invalidate("cwt=1")
	if b, _ = tc.Token(); b.AccessToken != "cwt=2" {
		t.Fatalf("after invalidate: %s", b.AccessToken)
	}
	// A token inside its last tenth of life is renewed before it expires.
	short := &countingSource{lifetime: 50 * time.Millisecond}
	tc = newTokenCache(short)
	first, _ := tc.Token()
	time.Sleep(47 * time.Millisecond)
	next, _ := tc.Token()
	if first.AccessToken == next.AccessToken {
		t.Fatal("token not renewed before expires_in")
	}
	if _, err := newTokenCache(nil).Token(); !errors.Is(err, ErrNotSignedIn) {
		t.Fatalf("err = %v", err)
	}
}

func TestAzureADTokenSource_sends_resource(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("resource") != "https://webdir1a.online.lync.com" ||
			r.PostForm.Get("tenant_hint") != "t" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"eyJ0","token_type":"Bearer","expires_in":3599}`)
	}))
	defer ts.Close()
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, ts.Client())
	cfg := clientcredentials.Config{ClientID: "id", ClientSecret: "sec", TokenURL: ts.URL + "/oauth2/token",
		EndpointParams: map[string][]string{"tenant_hint": {"t"}}}
	tok, err := NewAzureADTokenSource(ctx, cfg, "https://webdir1a.online.lync.com").Token()
	if err != nil || tok.AccessToken != "eyJ0" {
		t.Fatalf("%v %+v", err, tok)
	}
	if cfg.EndpointParams.Get("resource") != "" {
		t.Error("caller's config modified")
	}
}
