package ucwa

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeDirectory is a minimal lyncdiscover + user + token server for discovery cases the
// simulator does not script: root and user redirect links, relative and unquoted challenges.
type fakeDirectory struct {
	mu       sync.Mutex
	issued   int
	calls    map[string]int
	root     *httptest.Server
	pool     *httptest.Server
	lastAuth string
}

func newFakeDirectory(t *testing.T) *fakeDirectory {
	f := &fakeDirectory{calls: map[string]int{}}
	f.pool = httptest.NewServer(http.HandlerFunc(f.servePool))
	f.root = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/Autodiscover/AutodiscoverService.svc/root":
			fmt.Fprintf(w, `{"_links":{"self":{"href":"/Autodiscover/AutodiscoverService.svc/root"},"redirect":{"href":"/root2"}}}`)
		case "/root2":
			fmt.Fprintf(w, `{"_links":{"user":{"href":%q},"xframe":{"href":"/x"}}}`, f.pool.URL+"/root/oauth/user?originalDomain=contoso.com")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(func() { f.root.Close(); f.pool.Close() })
	return f
}

func (f *fakeDirectory) token(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func (f *fakeDirectory) servePool(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls[r.URL.Path]++
	n := f.calls[r.URL.Path]
	current := fmt.Sprintf("cwt=%d", f.issued)
	f.lastAuth = r.Header.Get("Authorization")
	f.mu.Unlock()
	challenge := func(quoted bool) {
		w.Header().Add("WWW-Authenticate", `Bearer trusted_issuers="", client_id="00000004"`)
		if quoted {
			w.Header().Add("WWW-Authenticate", `MsRtcOAuth href="/WebTicket/oauthtoken",grant_type="urn:microsoft.rtc:windows,password"`)
		} else {
			w.Header().Add("WWW-Authenticate", `MsRtcOAuth href=/WebTicket/oauthtoken,grant_type="password"`)
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, "<html><title>401</title></html>")
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/WebTicket/oauthtoken":
		_ = r.ParseForm()
		if r.PostForm.Get("password") != secret {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		f.mu.Lock()
		f.issued++
		fmt.Fprintf(w, `{"access_token":"cwt=%d","expires_in":3600,"token_type":"Bearer"}`, f.issued)
		f.mu.Unlock()
	case "/root/oauth/user":
		if f.token(r) != current {
			challenge(false)
			return
		}
		fmt.Fprint(w, `{"_links":{"self":{"href":"/root/oauth/user"},"redirect":{"href":"/pool2/user"}}}`)
	case "/pool2/user":
		if f.token(r) != current {
			challenge(true)
			return
		}
		fmt.Fprint(w, `{"_links":{"applications":{"href":"/ucwa/oauth/v1/applications"}}}`)
	case "/expiring": // the token expires once: 401 with a fresh challenge
		if n == 1 {
			challenge(true)
			return
		}
		fmt.Fprint(w, `{"rel":"x","_links":{"self":{"href":"/expiring"}}}`)
	case "/invalid-token":
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"code":"Forbidden","subcode":"InvalidToken"}`)
	case "/no-challenge":
		w.WriteHeader(http.StatusUnauthorized)
	default:
		http.NotFound(w, r)
	}
}

func TestSignIn_follows_redirects_and_challenges(t *testing.T) {
	f := newFakeDirectory(t)
	c, err := New(Config{DiscoveryURL: f.root.URL + "/Autodiscover/AutodiscoverService.svc/root", InsecureHTTP: true, Address: "sip:bot@contoso.com",
		Password: secret, EndpointID: "e"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.SignIn(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := c.ApplicationsURL(), f.pool.URL+"/ucwa/oauth/v1/applications"; got != want {
		t.Fatalf("applications = %q, want %q", got, want)
	}
	if !strings.HasPrefix(f.lastAuth, "Bearer cwt=") {
		t.Fatalf("Authorization = %q", f.lastAuth)
	}
	tok, err := c.TokenSource().Token()
	if err != nil || !strings.HasPrefix(tok.AccessToken, "cwt=") {
		t.Fatalf("%v %v", tok, err)
	}

	// 401 with a fresh challenge: one new token, one retry, success.
	before := f.issued
	if _, err := c.Get(ctx, f.pool.URL+"/expiring"); err != nil {
		t.Fatal(err)
	}
	if f.issued != before+1 || f.calls["/expiring"] != 2 {
		t.Fatalf("issued %d→%d, calls %d", before, f.issued, f.calls["/expiring"])
	}
	// 403 InvalidToken: one retry with a new token, then ErrUnauthorized.
	_, err = c.Get(ctx, f.pool.URL+"/invalid-token")
	if !errors.Is(err, ErrUnauthorized) || f.calls["/invalid-token"] != 2 {
		t.Fatalf("err = %v, calls %d", err, f.calls["/invalid-token"])
	}
	// 401 without a challenge: no retry.
	_, err = c.Get(ctx, f.pool.URL+"/no-challenge")
	if !errors.Is(err, ErrUnauthorized) || f.calls["/no-challenge"] != 1 {
		t.Fatalf("err = %v, calls %d", err, f.calls["/no-challenge"])
	}
}

func TestSignIn_bad_password_and_bad_roots(t *testing.T) {
	f := newFakeDirectory(t)
	c, _ := New(Config{DiscoveryURL: f.root.URL + "/Autodiscover/AutodiscoverService.svc/root", InsecureHTTP: true, Address: "bot@contoso.com",
		Password: "wrong-" + secret, EndpointID: "e"})
	err := c.SignIn(context.Background())
	if !errors.Is(err, ErrInvalidGrant) || strings.Contains(fmt.Sprintf("%v %+v", err, err), secret) {
		t.Fatalf("err = %v", err)
	}
	c, _ = New(Config{DiscoveryURL: f.root.URL + "/nothing", InsecureHTTP: true, Address: "bot@contoso.com", Password: secret, EndpointID: "e"})
	if err := c.SignIn(context.Background()); !errors.Is(err, ErrDiscovery) {
		t.Fatalf("err = %v", err)
	}
	if _, err := c.CreateApplication(context.Background()); !errors.Is(err, ErrNotSignedIn) {
		t.Fatalf("err = %v", err)
	}
}

// hostRouter serves every host name on one TLS test server (the client's transport dials it
// whatever the name), so the derived lyncdiscover names can be exercised.
func hostRouter(t *testing.T, h http.HandlerFunc) *http.Client {
	ts := httptest.NewTLSServer(h)
	t.Cleanup(ts.Close)
	tr := ts.Client().Transport.(*http.Transport).Clone()
	addr := ts.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	tr.DialTLSContext = nil
	tr.TLSClientConfig.InsecureSkipVerify = true
	return &http.Client{Transport: tr}
}

func TestSignIn_derives_roots_from_the_address(t *testing.T) {
	var hosts []string
	var mu sync.Mutex
	internal := http.StatusNotFound
	hc := hostRouter(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Host == "lyncdiscoverinternal.contoso.com" && internal == http.StatusFound:
			http.Redirect(w, r, "https://lyncdiscover.evil.example.net/root", http.StatusFound)
		case r.Host == "lyncdiscoverinternal.contoso.com":
			w.WriteHeader(internal)
		case r.Host == "lyncdiscover.contoso.com":
			fmt.Fprint(w, `{"_links":{"user":{"href":"https://lyncweb.contoso.com/user"}}}`)
		case r.Host == "lyncweb.contoso.com" && r.URL.Path == "/user":
			if r.Header.Get("Authorization") != "Bearer cwt=ok" {
				w.Header().Add("WWW-Authenticate", `MsRtcOAuth href="https://lyncweb.contoso.com/token",grant_type="password"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, `{"_links":{"applications":{"href":"/ucwa/oauth/v1/applications"}}}`)
		case r.Host == "lyncweb.contoso.com" && r.URL.Path == "/token":
			fmt.Fprint(w, `{"access_token":"cwt=ok","expires_in":3600,"token_type":"Bearer"}`)
		default:
			t.Errorf("unexpected request to %s%s", r.Host, r.URL.Path)
			http.NotFound(w, r)
		}
	})
	for _, status := range []int{http.StatusNotFound, http.StatusFound} {
		internal, hosts = status, nil
		c, err := New(Config{Address: "sip:bot@contoso.com", Password: secret, EndpointID: "e", HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SignIn(context.Background()); err != nil {
			t.Fatalf("internal root %d: %v", status, err)
		}
		if c.ApplicationsURL() != "https://lyncweb.contoso.com/ucwa/oauth/v1/applications" {
			t.Fatalf("applications %q", c.ApplicationsURL())
		}
		if len(hosts) < 2 || hosts[0] != "lyncdiscoverinternal.contoso.com" || hosts[1] != "lyncdiscover.contoso.com" {
			t.Fatalf("internal root %d: hosts %v", status, hosts)
		}
	}
}

// splitRouter serves every host name of the given scheme on one test server each: https on a
// TLS server, http on a plain one. Dials to the names in unreachable fail, as a host that does
// not answer. It logs every dial as scheme://host.
func splitRouter(t *testing.T, tlsH, plainH http.HandlerFunc, unreachable ...string) (*http.Client, func() []string) {
	tlsSrv := httptest.NewTLSServer(tlsH)
	plainSrv := httptest.NewServer(plainH)
	t.Cleanup(func() { tlsSrv.Close(); plainSrv.Close() })
	var mu sync.Mutex
	var dials []string
	tr := tlsSrv.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, _ := net.SplitHostPort(addr)
		scheme, target := "http", plainSrv.Listener.Addr().String()
		if port == "443" {
			scheme, target = "https", tlsSrv.Listener.Addr().String()
		}
		mu.Lock()
		dials = append(dials, scheme+"://"+host)
		mu.Unlock()
		for _, u := range unreachable {
			if u == scheme+"://"+host {
				return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
			}
		}
		return (&net.Dialer{}).DialContext(ctx, network, target)
	}
	tr.DialTLSContext = nil
	tr.DisableKeepAlives = true // one dial per request, so the dial log is the request order
	tr.TLSClientConfig.InsecureSkipVerify = true
	return &http.Client{Transport: tr}, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), dials...)
	}
}

func TestSignIn_http_root_only_through_a_redirect_to_https_on_the_same_domain(t *testing.T) {
	const rootPath = "/Autodiscover/AutodiscoverService.svc/root"
	// Both servers can play the whole directory, so a client that follows a refused
	// redirect would sign in and the test would notice.
	directory := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case rootPath, "/":
			fmt.Fprint(w, `{"_links":{"user":{"href":"https://lyncweb.contoso.com/user"}}}`)
		case "/user":
			if r.Header.Get("Authorization") != "Bearer cwt=ok" {
				w.Header().Add("WWW-Authenticate", `MsRtcOAuth href="https://lyncweb.contoso.com/token",grant_type="password"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, `{"_links":{"applications":{"href":"/ucwa/oauth/v1/applications"}}}`)
		case "/token":
			fmt.Fprint(w, `{"access_token":"cwt=ok","expires_in":3600,"token_type":"Bearer"}`)
		default:
			http.NotFound(w, r)
		}
	}
	cases := []struct {
		name     string
		location string // where http://lyncdiscoverinternal redirects; "" answers the root itself
		refusal  string // "" when sign-in succeeds
	}{
		{"redirect to https on the domain", "https://lyncweb.contoso.com" + rootPath, ""},
		{"redirect to http", "http://lyncweb.contoso.com" + rootPath, "redirect to http://lyncweb.contoso.com" + rootPath + " is not https"},
		{"redirect to another domain", "https://lyncweb.contoso.evil.example" + rootPath, "redirect to lyncweb.contoso.evil.example leaves contoso.com"},
		{"no redirect", "", "http://lyncdiscoverinternal.contoso.com answered over http without a redirect to https"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plain := func(w http.ResponseWriter, r *http.Request) {
				if r.Host == "lyncdiscoverinternal.contoso.com" && tc.location != "" {
					http.Redirect(w, r, tc.location, http.StatusFound)
					return
				}
				if r.Host == "lyncdiscover.contoso.com" {
					http.NotFound(w, r)
					return
				}
				directory(w, r)
			}
			hc, dials := splitRouter(t, directory, plain,
				"https://lyncdiscoverinternal.contoso.com", "https://lyncdiscover.contoso.com")
			c, err := New(Config{Address: "sip:bot@contoso.com", Password: secret, EndpointID: "e", HTTPClient: hc})
			if err != nil {
				t.Fatal(err)
			}
			err = c.SignIn(context.Background())
			got := dials()
			if len(got) < 3 || got[0] != "https://lyncdiscoverinternal.contoso.com" || got[1] != "https://lyncdiscover.contoso.com" ||
				got[2] != "http://lyncdiscoverinternal.contoso.com" {
				t.Fatalf("dials %v: want the https roots first, then http", got)
			}
			if tc.refusal == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.ApplicationsURL() != "https://lyncweb.contoso.com/ucwa/oauth/v1/applications" {
					t.Fatalf("applications %q", c.ApplicationsURL())
				}
				if got[3] != "https://lyncweb.contoso.com" {
					t.Fatalf("dials %v: the redirect was not followed", got)
				}
				return
			}
			if !errors.Is(err, ErrDiscovery) || !strings.Contains(err.Error(), tc.refusal) {
				t.Fatalf("err = %v, want ErrDiscovery saying %q", err, tc.refusal)
			}
			if c.ApplicationsURL() != "" {
				t.Fatalf("signed in through a refused root: %q", c.ApplicationsURL())
			}
			for _, d := range got {
				if d == "http://lyncweb.contoso.com" || strings.Contains(d, "evil") {
					t.Fatalf("dials %v: followed a refused redirect", got)
				}
			}
		})
	}
}
