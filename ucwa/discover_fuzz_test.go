package ucwa_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/ucwa"
)

// discoveryAnswers is what the fuzzed servers answer during one sign-in.
type discoveryAnswers struct {
	root        []byte
	rootStatus  int
	location    string // of a 3xx answer, root or token
	challenge   string // WWW-Authenticate of the user resource's 401
	token       []byte
	tokenStatus int
	user        []byte
}

// discoveryBed is the world one fuzzed sign-in runs in. Host names are
// mapped by the client's dialer: the bot's domain (contoso.com and its
// subdomains), its trusted host and, with a discovery URL, that URL's
// host reach the trusted servers (https on port 443, http on any other
// port); every other host reaches the recording server, which no request
// may reach.
type discoveryBed struct {
	tlsSrv, plainSrv, otherSrv *httptest.Server

	answers atomic.Pointer[discoveryAnswers]

	mu        sync.Mutex
	other     []string // hosts dialled or requests received outside the trusted hosts
	plainAuth []string // requests over plain http carrying the password or a token
}

const (
	fuzzPassword     = "fuzz-Pa55word-7f3a"
	fuzzDiscoveryURL = "//disco.fabrikam.net/autodiscover/autodiscoverservice.svc/root"
	fuzzTrustedHost  = "pool.fabrikam.net"
)

func newDiscoveryBed(tb testing.TB) *discoveryBed {
	b := &discoveryBed{}
	b.tlsSrv = httptest.NewTLSServer(http.HandlerFunc(b.serveTrusted))
	b.plainSrv = httptest.NewServer(http.HandlerFunc(b.serveTrusted))
	b.otherSrv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.record(&b.other, "request "+r.Host+r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
	}))
	tb.Cleanup(func() {
		b.tlsSrv.Close()
		b.plainSrv.Close()
		b.otherSrv.Close()
	})
	return b
}

func (b *discoveryBed) record(list *[]string, s string) {
	b.mu.Lock()
	*list = append(*list, s)
	b.mu.Unlock()
}

// serveTrusted plays the lyncdiscover root, the user resource and the
// token endpoint, picked by path.
func (b *discoveryBed) serveTrusted(w http.ResponseWriter, r *http.Request) {
	a := b.answers.Load()
	body, _ := io.ReadAll(r.Body)
	if r.TLS == nil && (r.Header.Get("Authorization") != "" || strings.Contains(string(body), "password")) {
		b.record(&b.plainAuth, r.Method+" "+r.Host+r.URL.Path)
	}
	p := strings.ToLower(r.URL.Path)
	answer := func(status int, body []byte) {
		if status >= 300 && status < 400 {
			w.Header().Set("Location", a.location)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
	switch {
	case strings.Contains(p, "token"):
		answer(a.tokenStatus, a.token)
	case strings.Contains(p, "user") && r.Header.Get("Authorization") == "":
		w.Header().Set("WWW-Authenticate", a.challenge)
		w.WriteHeader(http.StatusUnauthorized)
	case strings.Contains(p, "user"):
		answer(http.StatusOK, a.user)
	case strings.Contains(p, "root"), p == "/", p == "":
		answer(a.rootStatus, a.root)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// client returns a client for bot@contoso.com whose dialer maps hosts as
// the bed says, and its transport.
func (b *discoveryBed) client(tb testing.TB, derived, insecure bool) (*ucwa.Client, *http.Transport) {
	trusted := func(host string) bool {
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		return host == "contoso.com" || strings.HasSuffix(host, ".contoso.com") ||
			host == fuzzTrustedHost || (!derived && host == "disco.fabrikam.net")
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			// Not net.SplitHostPort, which refuses some hosts the URL
			// parser lets through (l]ncdiscover.contoso.com).
			host, port := addr, ""
			if i := strings.LastIndex(addr, ":"); i >= 0 {
				host, port = addr[:i], addr[i+1:]
			}
			target := b.plainSrv.Listener.Addr().String()
			switch {
			case !trusted(host):
				b.record(&b.other, "dial "+addr)
				target = b.otherSrv.Listener.Addr().String()
			case port == "443":
				target = b.tlsSrv.Listener.Addr().String()
			}
			return (&net.Dialer{}).DialContext(ctx, "tcp", target)
		},
		// The test server's certificate names none of the hosts.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test servers only
	}
	cfg := ucwa.Config{
		Address:        "sip:bot@contoso.com",
		Password:       fuzzPassword,
		EndpointID:     "ep-fuzz",
		HTTPClient:     &http.Client{Transport: tr},
		RequestTimeout: 10 * time.Second,
		TrustedHosts:   []string{fuzzTrustedHost},
		InsecureHTTP:   insecure,
	}
	if !derived {
		cfg.DiscoveryURL = "https:" + fuzzDiscoveryURL
		if insecure {
			cfg.DiscoveryURL = "http:" + fuzzDiscoveryURL
		}
	}
	c, err := ucwa.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c, tr
}

var (
	fuzzRootStatus  = []int{200, 200, 301, 302, 307, 308, 404, 500}
	fuzzTokenStatus = []int{200, 200, 400, 307}
)

const fuzzChallenge = `MsRtcOAuth href="https://disco.fabrikam.net/WebTicket/oauthtoken",grant_type="urn:microsoft.rtc:windows,urn:microsoft.rtc:anonmeeting,password"`

// FuzzSignIn serves fuzzed discovery roots, user resources, 401
// challenges and token responses (and HTTP redirects) to a signing-in
// client. It checks that the client never panics; that it never connects
// to a host it does not trust (links, Location headers and challenges
// naming other hosts are refused); that it sends the password and tokens
// over plain http only when the account allows plain http; and that its
// error never holds the password.
func FuzzSignIn(f *testing.F) {
	sample := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "samples", name))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	roots := [][]byte{sample("root__get-response__1.json"), sample("RootURL__doc-json__1.json"), sample("RootURL__doc-response__1.json"),
		[]byte(`{"_links":{"user":{"href":"https://evil.example/autodiscover/autodiscoverservice.svc/root/oauth/user"}}}`),
		[]byte(`{"_links":{"redirect":{"href":"https://contoso.com.evil.example/root"}}}`),
		[]byte(`{"_links":{"user":{"href":"//evil.example/user"}}}`),
		[]byte(`{"_links":{"user":{"href":"http://lyncdiscover.contoso.com/user"}}}`),
		[]byte(`{"_links":{"user":{"href":"https://pool.fabrikam.net/user"}}}`)}
	users := [][]byte{sample("user__get-response__1.json"),
		[]byte(`{"_links":{"applications":{"href":"https://evil.example/ucwa/oauth/v1/applications"}}}`),
		[]byte(`{"_links":{"redirect":{"href":"https://evil.example/user"}}}`),
		[]byte(`{"_links":{"redirect":{"href":"https://pool.contoso.com/autodiscover/autodiscoverservice.svc/root/oauth/user"}}}`)}
	tokens := [][]byte{sample("AuthenticationInUCWA__doc-response__1.json"), sample("AuthenticationInUCWA__doc-response__2.json"),
		sample("AuthenticationInUCWA__doc-response__3.json"), sample("AuthenticationUsingAzureAD__doc-json__1.json"),
		[]byte(`{"access_token":"cwt=x","token_type":"Bearer","expires_in":"60"}`)}
	challenges := []string{fuzzChallenge, `MsRtcOAuth href="https://evil.example/WebTicket/oauthtoken",grant_type="password"`,
		`MsRtcOAuth href=http://disco.fabrikam.net/token, grant_type=password`, `Bearer authorization_uri="https://login.example/x", MsRtcOAuth href="/token"`,
		`MsRtcOAuth grant_type="urn:microsoft.rtc:windows"`}
	locations := []string{"https://lyncdiscover.contoso.com/autodiscover/autodiscoverservice.svc/root", "https://evil.example/root",
		"http://disco.fabrikam.net/root", "//evil.example/root", "/root"}
	// flags: bit 0 derived roots, bit 1 insecure_http, bits 2-4 the
	// root's status (fuzzRootStatus), bits 5-6 the token's (fuzzTokenStatus).
	for i, root := range roots {
		for mode := range 4 {
			// A sign-in that can succeed, and one that mixes the other answers.
			ch := fuzzChallenge
			if mode&1 != 0 {
				ch = `MsRtcOAuth href="/WebTicket/oauthtoken",grant_type="password"`
			}
			f.Add(root, locations[0], ch, tokens[0], users[0], uint8(mode))
			j := i + mode
			f.Add(root, locations[j%len(locations)], challenges[j%len(challenges)], tokens[j%len(tokens)], users[j%len(users)],
				uint8(mode|[]int{0, 2, 4, 6}[j%4]<<2|[]int{0, 2, 3}[j%3]<<5))
		}
	}
	for _, u := range users {
		f.Add(roots[0], locations[0], fuzzChallenge, tokens[0], u, uint8(0))
	}

	bed := newDiscoveryBed(f)
	f.Fuzz(func(t *testing.T, root []byte, location, challenge string, token, user []byte, flags uint8) {
		derived, insecure := flags&1 != 0, flags&2 != 0
		bed.answers.Store(&discoveryAnswers{
			root: root, rootStatus: fuzzRootStatus[flags>>2&7], location: location, challenge: challenge,
			token: token, tokenStatus: fuzzTokenStatus[flags>>5&3], user: user,
		})
		bed.mu.Lock()
		bed.other, bed.plainAuth = nil, nil
		bed.mu.Unlock()

		c, tr := bed.client(t, derived, insecure)
		defer tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := c.SignIn(ctx)
		if err == nil {
			_, _ = c.CreateApplication(ctx)
		} else if strings.Contains(err.Error(), fuzzPassword) {
			t.Fatalf("the error holds the password: %v", err)
		}

		bed.mu.Lock()
		other, plainAuth := bed.other, bed.plainAuth
		bed.mu.Unlock()
		if len(other) > 0 {
			t.Fatalf("derived %v, insecure %v: the client reached untrusted hosts: %q (sign-in: %v)", derived, insecure, other, err)
		}
		if !insecure && len(plainAuth) > 0 {
			t.Fatalf("derived %v: credentials over plain http without insecure_http: %q (sign-in: %v)", derived, plainAuth, err)
		}
	})
}
