package ucwa_test

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/ucwa"
)

func signIn(t *testing.T, cfg ucwa.Config) error {
	t.Helper()
	cfg.Address, cfg.Password, cfg.EndpointID = botURI, botPW, "ep-"+t.Name()
	c, err := ucwa.New(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.SignIn(ctx); err != nil {
		return err
	}
	_, err = c.CreateApplication(ctx)
	return err
}

func TestTransport_plain_http_is_refused_unless_insecure_http_is_set(t *testing.T) {
	sim := startSim(t)
	before := len(sim.Requests())

	err := signIn(t, ucwa.Config{DiscoveryURL: sim.DiscoveryURL()})
	if !errors.Is(err, ucwa.ErrInsecureHTTP) {
		t.Fatalf("sign in over http without insecure_http: %v, want ErrInsecureHTTP", err)
	}
	for _, want := range []string{"127.0.0.1", "discovery_url", "accounts[].insecure_http"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not name %q: %v", want, err)
		}
	}
	if n := len(sim.Requests()) - before; n != 0 {
		t.Fatalf("the plain http server received %d requests", n)
	}
	if err := signIn(t, ucwa.Config{DiscoveryURL: sim.DiscoveryURL(), InsecureHTTP: true}); err != nil {
		t.Fatalf("sign in over http with insecure_http: %v", err)
	}
}

// tlsSim serves the simulator over TLS with httptest's certificate and returns its discovery
// URL and the certificate written as a PEM file.
func tlsSim(t *testing.T) (discovery, caFile string, srv *httptest.Server) {
	t.Helper()
	sim := startSim(t)
	srv = httptest.NewUnstartedServer(sim.Handler())
	srv.StartTLS()
	t.Cleanup(srv.Close)
	root, err := url.Parse(sim.DiscoveryURL())
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL + root.RequestURI(), caFile, srv
}

func TestTransport_an_https_root_whose_user_link_is_plain_http_is_refused(t *testing.T) {
	sim := startSim(t)
	var mu sync.Mutex
	var plain []string
	front := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A root over https that sends the client on to the simulator over plain http.
		fmt.Fprintf(w, `{"_links":{"user":{"href":"%s/Autodiscover/AutodiscoverService.svc/root/oauth/user"}}}`, sim.URL())
	}))
	front.StartTLS()
	defer front.Close()
	hc := front.Client()
	counting := hc.Transport
	hc.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Scheme == "http" {
			mu.Lock()
			plain = append(plain, r.URL.String())
			mu.Unlock()
		}
		return counting.RoundTrip(r)
	})

	err := signIn(t, ucwa.Config{DiscoveryURL: front.URL + "/Autodiscover/AutodiscoverService.svc/root", HTTPClient: hc})
	if !errors.Is(err, ucwa.ErrInsecureHTTP) || !strings.Contains(err.Error(), "user link") {
		t.Fatalf("sign in through an http user link: %v, want ErrInsecureHTTP naming the user link", err)
	}
	if len(plain) != 0 {
		t.Fatalf("requests went over plain http: %q", plain)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransport_ca_file_adds_a_private_CA_and_verification_stays_on(t *testing.T) {
	discovery, caFile, _ := tlsSim(t)

	err := signIn(t, ucwa.Config{DiscoveryURL: discovery})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("sign in to a server with a private certificate and no ca_file: %v, want a certificate error", err)
	}
	if err := signIn(t, ucwa.Config{DiscoveryURL: discovery, CAFile: caFile}); err != nil {
		t.Fatalf("sign in with ca_file: %v", err)
	}
	// The CA vouches for 127.0.0.1 and example.com only: another name fails verification.
	other := strings.Replace(discovery, "127.0.0.1", "localhost", 1)
	err = signIn(t, ucwa.Config{DiscoveryURL: other, CAFile: caFile, TrustedHosts: []string{"localhost"}})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("sign in to a name the certificate does not cover: %v, want a certificate error", err)
	}
}

func TestTransport_a_bad_ca_file_is_an_error_naming_the_file(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "not-pem.txt")
	if err := os.WriteFile(bad, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{bad, filepath.Join(t.TempDir(), "missing.pem")} {
		_, err := ucwa.New(ucwa.Config{DiscoveryURL: "https://lyncdiscover.contoso.com/", Address: botURI, Password: botPW, EndpointID: "e", CAFile: path})
		if err == nil || !strings.Contains(err.Error(), filepath.Base(path)) {
			t.Errorf("ca file %s: %v, want an error naming it", path, err)
		}
	}
}

func TestTransport_OnSecret_hears_the_password_and_every_token(t *testing.T) {
	sim := startSim(t)
	var mu sync.Mutex
	var secrets []string
	c, err := ucwa.New(ucwa.Config{DiscoveryURL: sim.DiscoveryURL(), InsecureHTTP: true, Address: botURI, Password: botPW, EndpointID: "ep-secret",
		OnSecret: func(s string) { mu.Lock(); secrets = append(secrets, s); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := c.SignIn(ctx); err != nil {
		t.Fatal(err)
	}
	first, err := c.TokenSource().Token()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SignIn(ctx); err != nil { // a renewal: a new token
		t.Fatal(err)
	}
	second, err := c.TokenSource().Token()
	if err != nil {
		t.Fatal(err)
	}
	if first.AccessToken == second.AccessToken {
		t.Fatal("sign in again kept the same token")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{botPW, first.AccessToken, second.AccessToken} {
		found := false
		for _, s := range secrets {
			found = found || s == want
		}
		if !found {
			t.Errorf("OnSecret never heard a secret of %d characters (heard %d secrets)", len(want), len(secrets))
		}
	}
}
