package ucwa

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Version is the client's version, used in the default user agent.
const Version = "0.1"

// maxBody bounds how much of a response body the client reads.
const maxBody = 8 << 20

// Config configures a Client. Password is never printed: Config formats itself with the
// password redacted for every fmt verb.
type Config struct {
	// DiscoveryURL is the lyncdiscover root to start from (e.g. https://lyncdiscover.contoso.com/
	// or a simulator's). If empty it is derived from Address: https://lyncdiscoverinternal.<domain>,
	// then https://lyncdiscover.<domain>.
	DiscoveryURL string
	// Address is the bot's sign-in address, sip:bot@contoso.com or bot@contoso.com.
	Address string
	// Username is the name for the password grant; defaults to Address without "sip:".
	Username string
	// Password is the password for the password grant. Never logged or printed.
	Password string
	// TokenSource, when set, replaces the password grant (e.g. NewAzureADTokenSource).
	TokenSource oauth2.TokenSource
	// UserAgent is sent as the application's userAgent and as User-Agent; default "ucwabot/<Version>".
	UserAgent string
	// EndpointID identifies the application; keep it stable per bot account so a restart
	// finds the same application (PROTOCOL.md §4.1).
	EndpointID string
	// Culture is the application's culture; default "en-US".
	Culture string
	// HTTPClient is the HTTP client; default a client with dial, TLS and header timeouts. Its
	// overall Timeout should be zero or above the longest P-GET.
	HTTPClient *http.Client
	// RequestTimeout, when positive, bounds every request (discovery, token and UCWA
	// requests, each until its body is read) except the event channel's P-GET, which Poll
	// bounds by its own timeout. A request cut short fails with an error that IsTransient
	// accepts and that matches context.DeadlineExceeded.
	RequestTimeout time.Duration
	// TrustedHosts lists hosts besides the SIP domain (and its subdomains) and the host of
	// DiscoveryURL that may receive the password, tokens and UCWA requests, e.g. a pool FQDN
	// in another domain.
	TrustedHosts []string
	// BeforeSend, when set, is called just before every request is sent (and before a token
	// is fetched for it). An error stops the request unsent: the call fails with an error
	// that matches it and ErrNotSent. The engine uses it to send nothing for an account whose
	// lease this instance no longer holds.
	BeforeSend func(ctx context.Context) error
	// InsecureHTTP allows plain http URLs (a simulator, a test bed). Without it every request
	// that would carry the password, a token or an authorised call goes over https only, and a
	// plain http link is refused with an error naming it; only the http variants of the
	// derived discovery roots are tried without it, and they must redirect to https.
	InsecureHTTP bool
	// CAFile is a PEM bundle of CA certificates added to the system roots for this account's
	// TLS connections (a private PKI). TLS verification always stays on.
	CAFile string
	// OnSecret, when set, is called with every secret the client comes to know, as soon as it
	// knows it: the password (in New) and each access or refresh token obtained. A service
	// registers them with its log redactor. It may be called concurrently.
	OnSecret func(secret string)
}

// ErrNotSent is a request that Config.BeforeSend stopped before it left.
var ErrNotSent = errors.New("ucwa: request not sent")

const redacted = "[redacted]"

// configPrint is Config without its methods, for printing.
type configPrint Config

func (c Config) printable() configPrint {
	p := configPrint(c)
	if p.Password != "" {
		p.Password = redacted
	}
	return p
}

// String returns the configuration with the password redacted.
func (c Config) String() string { return fmt.Sprintf("%+v", c.printable()) }

// GoString returns the configuration with the password redacted.
func (c Config) GoString() string { return fmt.Sprintf("%#v", c.printable()) }

// Format formats the configuration for any verb with the password redacted.
func (c Config) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), c.printable())
}

// Client talks to one UCWA account. Its methods may be called concurrently; the event channel
// needs one Poll at a time (the caller owns ordering).
type Client struct {
	cfg    Config
	hc     *http.Client
	tokens *tokenCache

	mu              sync.Mutex
	applicationsURL string
	tokenURL        string
	rediscover      bool // the next SignIn runs discovery (PROTOCOL.md §2.1 step 5)
	connFailures    int  // requests in a row that got no answer
}

// New checks cfg and returns a client; it does no I/O. Call SignIn next.
func New(cfg Config) (*Client, error) {
	if cfg.Address == "" {
		return nil, errors.New("ucwa: config: address is required")
	}
	if cfg.Username == "" {
		cfg.Username = strings.TrimPrefix(cfg.Address, "sip:")
	}
	if cfg.Password == "" && cfg.TokenSource == nil {
		return nil, errors.New("ucwa: config: password or token source is required")
	}
	if cfg.DiscoveryURL == "" && domainOf(cfg.Address) == "" {
		return nil, fmt.Errorf("ucwa: config: address %q has no domain to discover from", cfg.Address)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "ucwabot/" + Version
	}
	if cfg.Culture == "" {
		cfg.Culture = "en-US"
	}
	if cfg.EndpointID == "" {
		return nil, errors.New("ucwa: config: endpoint id is required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultHTTPClient()
	}
	if cfg.CAFile != "" {
		hc, err := withCAFile(cfg.HTTPClient, cfg.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.HTTPClient = hc
	}
	if cfg.OnSecret != nil {
		cfg.OnSecret(cfg.Password)
	}
	c := &Client{cfg: cfg}
	hc := *cfg.HTTPClient
	hc.CheckRedirect = c.policyRedirect(cfg.HTTPClient.CheckRedirect)
	c.hc = &hc
	c.tokens = newTokenCache(cfg.TokenSource)
	c.tokens.onSecret = cfg.OnSecret
	return c, nil
}

func defaultHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 0, // P-GETs park for minutes; Poll sets its own deadline
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   8,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	return &http.Client{Transport: tr}
}

// LoadCAFile reads a PEM bundle and returns the system roots with its certificates added.
// The error names the file, never its content.
func LoadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca file %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// withCAFile returns a copy of hc whose transport trusts the CA certificates of path besides
// the system roots.
func withCAFile(hc *http.Client, path string) (*http.Client, error) {
	pool, err := LoadCAFile(path)
	if err != nil {
		return nil, fmt.Errorf("ucwa: config: %w", err)
	}
	var tr *http.Transport
	switch t := hc.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return nil, fmt.Errorf("ucwa: config: ca file %s needs an HTTPClient whose Transport is an *http.Transport, not %T", path, t)
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr.TLSClientConfig.RootCAs = pool
	tr.TLSClientConfig.InsecureSkipVerify = false
	out := *hc
	out.Transport = tr
	return &out, nil
}

// domainOf returns the domain of a sign-in address ("sip:bot@contoso.com" → "contoso.com").
func domainOf(address string) string {
	_, d, ok := strings.Cut(strings.TrimPrefix(address, "sip:"), "@")
	if !ok {
		return ""
	}
	return d
}

// Do performs an authorised request: Authorization: Bearer <token>, Accept: application/json.
// On 401 with a fresh challenge, or 403 InvalidToken, it re-acquires the token once and
// retries once. A non-2xx answer is an *Error; the body is returned read in full (bounded).
// Cancelling ctx aborts the request.
func (c *Client) Do(ctx context.Context, method, href, contentType string, body []byte) (*http.Response, []byte, error) {
	return c.do(ctx, method, href, contentType, body, scopeAny)
}

func (c *Client) do(ctx context.Context, method, href, contentType string, body []byte, scope errScope) (*http.Response, []byte, error) {
	for attempt := 0; ; attempt++ {
		if err := c.beforeSend(ctx, method, href); err != nil {
			return nil, nil, err
		}
		tok, err := c.tokens.Token()
		if err != nil {
			return nil, nil, err
		}
		resp, data, err := c.send(ctx, c.hc, method, href, contentType, body, tok.AccessToken)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, ErrNotSent) {
				c.noteOutcome(0)
			}
			return nil, nil, err
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			c.noteOutcome(resp.StatusCode)
			return resp, data, nil
		}
		e := newError(method, href, resp, data, scope)
		if attempt == 0 && c.tokenRejected(resp, e) {
			c.tokens.Invalidate(tok.AccessToken)
			continue
		}
		c.noteOutcome(resp.StatusCode)
		return resp, data, e
	}
}

// tokenRejected reports whether resp says the token is no longer good (PROTOCOL.md §2.3: 401
// with a fresh challenge; online tenants also send 403 InvalidToken), and takes note of a
// token endpoint that moved.
func (c *Client) tokenRejected(resp *http.Response, e *Error) bool {
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		ch, ok := parseChallenges(resp.Header.Values("WWW-Authenticate"))
		if !ok {
			return false
		}
		if ch.TokenURL != "" {
			tu := resolveAgainst(resp.Request.URL.String(), ch.TokenURL)
			if c.checkHost(tu, "a 401 challenge") != nil {
				return false // never move the password grant to an untrusted host
			}
			c.setTokenURL(tu)
		}
		return true
	case resp.StatusCode == http.StatusForbidden:
		return strings.EqualFold(e.Subcode, "InvalidToken")
	}
	return false
}

// send makes one HTTP request with the given bearer token ("" for none).
func (c *Client) send(ctx context.Context, hc *http.Client, method, href, contentType string, body []byte, token string) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	if c.cfg.RequestTimeout > 0 && ctx.Value(longPollKey{}) == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.RequestTimeout)
		defer cancel()
	}
	from, _ := ctx.Value(linkFromKey{}).(string)
	if from == "" {
		from = "a link in a response"
	}
	plainRoot, _ := ctx.Value(plainRootKey{}).(string)
	if err := c.checkURL(href, from, plainRoot != "" && plainRoot == href); err != nil {
		return nil, nil, err
	}
	if err := c.beforeSend(ctx, method, href); err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, href, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("ucwa: %s %s: %w", method, redactURL(href), err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, redactErr(method, href, err)
	}
	defer resp.Body.Close()
	data, err := readBody(resp)
	if err != nil {
		return nil, nil, redactErr(method, href, err)
	}
	if len(data) > maxBody {
		return nil, nil, fmt.Errorf("ucwa: %s %s: %w: more than %d bytes (HTTP %d)", method, redactURL(href), ErrAnswerTooLarge, maxBody, resp.StatusCode)
	}
	return resp, data, nil
}

// readBody reads an answer's body, at most maxBody+1 bytes, in one
// allocation when the server said its length (io.ReadAll starts at 512
// bytes and doubles).
func readBody(resp *http.Response) ([]byte, error) {
	body := io.LimitReader(resp.Body, maxBody+1)
	n := resp.ContentLength
	if n < 0 || n > maxBody {
		return io.ReadAll(body)
	}
	// One byte more than announced: the read that finds the end fits.
	buf := make([]byte, 0, n+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// beforeSend runs Config.BeforeSend for a request about to leave.
func (c *Client) beforeSend(ctx context.Context, method, href string) error {
	if c.cfg.BeforeSend == nil {
		return nil
	}
	if err := c.cfg.BeforeSend(ctx); err != nil {
		return fmt.Errorf("ucwa: %s %s: %w: %w", method, redactURL(href), ErrNotSent, err)
	}
	return nil
}

// longPollKey marks a context whose request is a P-GET, which Config.RequestTimeout does not
// bound.
type longPollKey struct{}

// plainRootKey marks a context whose request may go to this one plain http URL: a derived
// discovery root (PROTOCOL.md §2.1 step 1), which is asked for nothing but a redirect to https.
type plainRootKey struct{}

// linkFromKey carries, for error messages, where the URL of a request came from.
type linkFromKey struct{}

// redactErr wraps a transport error, keeping its chain, without the URL's query.
func redactErr(method, href string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	err = fmt.Errorf("ucwa: %s %s: %w", method, redactURL(href), err)
	if errors.Is(err, io.EOF) {
		// The connection ended before an answer: worth retrying (PROTOCOL.md §6.5).
		return &transientError{err}
	}
	return err
}

// Get GETs href and decodes the resource, hrefs resolved against href.
func (c *Client) Get(ctx context.Context, href string) (*Resource, error) {
	return c.getScoped(ctx, href, scopeAny)
}

func (c *Client) getScoped(ctx context.Context, href string, scope errScope) (*Resource, error) {
	_, data, err := c.do(ctx, http.MethodGet, href, "", nil, scope)
	if err != nil {
		return nil, err
	}
	return decodeAt(data, href)
}

// decodeAt decodes a resource body fetched from href.
func decodeAt(data []byte, href string) (*Resource, error) {
	base, err := url.Parse(href)
	if err != nil {
		return nil, fmt.Errorf("ucwa: %s: %w", redactURL(href), err)
	}
	r, err := DecodeResource(data, base)
	if err != nil {
		return nil, fmt.Errorf("%w (from %s)", err, redactURL(href))
	}
	return r, nil
}

// postJSON POSTs a JSON body (or nothing when body is nil) and returns the response.
func (c *Client) post(ctx context.Context, href string, body []byte, scope errScope) (*http.Response, []byte, error) {
	ct := ""
	if body != nil {
		ct = "application/json"
	}
	return c.do(ctx, http.MethodPost, href, ct, body, scope)
}

// location returns the response's Location header resolved against href.
func location(resp *http.Response, href string) string {
	if loc := resp.Header.Get("Location"); loc != "" {
		return resolveAgainst(href, loc)
	}
	return ""
}

// requireLink returns an error naming the missing link.
func requireLink(what, rel, href string) error {
	if href == "" {
		return fmt.Errorf("ucwa: %s has no %s link: %w", what, rel, ErrNoLink)
	}
	return nil
}

// ErrNoLink is returned when a resource lacks the link an operation needs (e.g. reportMyActivity
// before makeMeAvailable, sendMessage while messaging is not connected).
var ErrNoLink = errors.New("ucwa: link not available")

// String describes the client by its address; the configuration's secrets are never printed.
func (c *Client) String() string { return "ucwa.Client{" + c.cfg.Address + "}" }

// GoString describes the client like String.
func (c *Client) GoString() string { return c.String() }

// Format describes the client like String, for every verb.
func (c *Client) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }
