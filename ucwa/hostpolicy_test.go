package ucwa_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/ucwa"
)

// foreignHost is a host outside contoso.com that serves the simulator through a recording
// proxy, so that a client that follows a link there could sign in completely: every request
// and body it receives is kept, to show that the password and the token never reach it.
type foreignHost struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string
}

func startForeign(t *testing.T, target string) *foreignHost {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &foreignHost{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.seen = append(f.seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+string(body))
		f.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// url returns the foreign server's address under the name localhost, a host the bot's
// account (contoso.com, discovery on 127.0.0.1) does not trust.
func (f *foreignHost) url() string {
	return strings.Replace(f.srv.URL, "127.0.0.1", "localhost", 1)
}

func (f *foreignHost) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

func signInVia(t *testing.T, discovery string, trusted ...string) error {
	t.Helper()
	c, err := ucwa.New(ucwa.Config{DiscoveryURL: discovery, InsecureHTTP: true, Address: botURI, Password: botPW, TrustedHosts: trusted, EndpointID: "ep-" + t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.SignIn(ctx); err != nil {
		return err
	}
	_, err = c.CreateApplication(ctx)
	return err
}

// redirectingRoot starts a discovery root on 127.0.0.1 that answers every request with a 302
// to the same path on to, and returns its discovery URL.
func redirectingRoot(t *testing.T, discovery string, to *foreignHost) string {
	t.Helper()
	root, err := url.Parse(discovery)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, to.url()+root.Path, http.StatusFound)
	}))
	t.Cleanup(front.Close)
	return front.URL + root.Path
}

func TestHostPolicy_a_redirect_from_the_discovery_root_to_another_host_is_refused(t *testing.T) {
	sim := startSim(t)
	foreign := startForeign(t, sim.URL())

	err := signInVia(t, redirectingRoot(t, sim.DiscoveryURL(), foreign))
	if !errors.Is(err, ucwa.ErrUntrustedHost) {
		t.Fatalf("sign in through a redirect to %s: %v, want ErrUntrustedHost", foreign.url(), err)
	}
	if !strings.Contains(err.Error(), "localhost") || !strings.Contains(err.Error(), "trusted_hosts") {
		t.Errorf("the refusal names neither the host nor the setting: %v", err)
	}
	if got := foreign.requests(); len(got) != 0 {
		t.Fatalf("the foreign host received %d requests: %q", len(got), got)
	}
}

func TestHostPolicy_trusted_hosts_lets_a_pool_in_another_domain_through(t *testing.T) {
	sim := startSim(t)
	pool := startForeign(t, sim.URL())

	if err := signInVia(t, redirectingRoot(t, sim.DiscoveryURL(), pool), "localhost"); err != nil {
		t.Fatalf("sign in through a pool listed in trusted_hosts: %v", err)
	}
	var token bool
	for _, r := range pool.requests() {
		token = token || strings.Contains(r, "grant_type=password")
	}
	if !token {
		t.Fatalf("the trusted pool never received the password grant: %q", pool.requests())
	}
}

// challengeFront starts a proxy on 127.0.0.1 in front of the simulator at simURL that, while
// hostile reports true, rewrites the token endpoint of every MsRtcOAuth challenge to the
// foreign host, and returns the discovery URL through it.
func challengeFront(t *testing.T, discovery, simURL string, foreign *foreignHost, hostile func() bool) string {
	t.Helper()
	target, err := url.Parse(simURL)
	if err != nil {
		t.Fatal(err)
	}
	var front *httptest.Server
	rewrite := httputil.NewSingleHostReverseProxy(target)
	rewrite.ModifyResponse = func(resp *http.Response) error {
		if !hostile() {
			return nil
		}
		vals := resp.Header.Values("WWW-Authenticate")
		resp.Header.Del("WWW-Authenticate")
		for _, v := range vals {
			if strings.HasPrefix(v, "MsRtcOAuth") {
				v = strings.Replace(v, front.URL, foreign.url(), 1)
			}
			resp.Header.Add("WWW-Authenticate", v)
		}
		return nil
	}
	front = httptest.NewServer(rewrite)
	t.Cleanup(front.Close)
	root, err := url.Parse(discovery)
	if err != nil {
		t.Fatal(err)
	}
	return front.URL + root.Path
}

func TestHostPolicy_a_token_endpoint_on_another_host_never_gets_the_password(t *testing.T) {
	sim := startSim(t)
	foreign := startForeign(t, sim.URL())
	always := func() bool { return true }

	err := signInVia(t, challengeFront(t, sim.DiscoveryURL(), sim.URL(), foreign, always))
	if !errors.Is(err, ucwa.ErrUntrustedHost) {
		t.Fatalf("sign in with a challenge naming %s: %v, want ErrUntrustedHost", foreign.url(), err)
	}
	for _, r := range foreign.requests() {
		if strings.Contains(r, botPW) || strings.Contains(r, "grant_type") {
			t.Fatalf("the foreign token endpoint received the password grant: %q", r)
		}
	}
}

func TestHostPolicy_an_https_root_redirecting_to_http_is_refused(t *testing.T) {
	sim := startSim(t)
	root, _ := url.Parse(sim.DiscoveryURL())
	front := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, sim.URL()+root.Path, http.StatusFound)
	}))
	defer front.Close()
	c, err := ucwa.New(ucwa.Config{DiscoveryURL: front.URL + root.Path, InsecureHTTP: true, Address: botURI, Password: botPW, HTTPClient: front.Client(), EndpointID: "ep-tls"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	before := countRequests(sim, "token")
	err = c.SignIn(ctx)
	if !errors.Is(err, ucwa.ErrUntrustedHost) || !strings.Contains(err.Error(), "leaves https") {
		t.Fatalf("sign in through an https→http redirect: %v, want a refusal that names the downgrade", err)
	}
	if n := countRequests(sim, "token") - before; n != 0 {
		t.Fatalf("%d token requests over plain http after the downgrade", n)
	}
}

func TestHostPolicy_a_foreign_challenge_on_a_later_call_keeps_the_password_home(t *testing.T) {
	sim := startSim(t)
	foreign := startForeign(t, sim.URL())
	var hostile atomic.Bool
	discovery := challengeFront(t, sim.DiscoveryURL(), sim.URL(), foreign, hostile.Load)
	c, err := ucwa.New(ucwa.Config{DiscoveryURL: discovery, InsecureHTTP: true, Address: botURI, Password: botPW, EndpointID: "ep-later"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.SignIn(ctx); err != nil {
		t.Fatal(err)
	}
	app, err := c.CreateApplication(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hostile.Store(true)
	sim.RevokeTokens(botURI)
	err = c.Refresh(ctx, app)
	if err == nil {
		t.Fatal("a call answered 401 with a foreign token endpoint succeeded through it")
	}
	_ = c.SignIn(ctx) // a later sign-in must not use the foreign endpoint either
	for _, r := range foreign.requests() {
		if strings.Contains(r, botPW) || strings.Contains(r, "grant_type") || strings.Contains(r, "Bearer") {
			t.Fatalf("the foreign host received credentials: %q", r)
		}
	}
	if len(foreign.requests()) != 0 {
		t.Fatalf("the foreign host received %d requests: %q", len(foreign.requests()), foreign.requests())
	}
}
