package ucwa

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ErrNotSignedIn is returned by requests made before SignIn found the token endpoint.
var ErrNotSignedIn = errors.New("ucwa: not signed in")

// tokenTimeout bounds one token request.
const tokenTimeout = 30 * time.Second

// NewPasswordTokenSource returns a token source for the MsRtcOAuth password grant
// (PROTOCOL.md §2.2): POST tokenURL grant_type=password&username=..&password=.. through
// golang.org/x/oauth2. The access token is the "cwt=..." string. ctx is used for every token
// request (keep it alive as long as the source); hc may be nil. Errors are *Error (400 with
// Code "invalid_grant" matches ErrInvalidGrant) and never contain the password. The source
// fetches a new token on every call: wrap it (the Client does) to reuse tokens.
func NewPasswordTokenSource(ctx context.Context, hc *http.Client, tokenURL, username, password string) oauth2.TokenSource {
	if hc != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	}
	return &passwordSource{
		ctx:      ctx,
		cfg:      oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}},
		username: username,
		password: password,
	}
}

// passwordSource is the password grant. It formats itself without the password.
type passwordSource struct {
	ctx                context.Context
	cfg                oauth2.Config
	username, password string
}

func (s *passwordSource) Token() (*oauth2.Token, error) {
	tok, err := s.cfg.PasswordCredentialsToken(s.ctx, s.username, s.password)
	if err != nil {
		return nil, tokenError(s.cfg.Endpoint.TokenURL, err)
	}
	return tok, nil
}

// String describes the source without its password.
func (s *passwordSource) String() string {
	return fmt.Sprintf("ucwa.passwordTokenSource{url: %s, username: %s}", redactURL(s.cfg.Endpoint.TokenURL), s.username)
}

// GoString describes the source without its password.
func (s *passwordSource) GoString() string { return s.String() }

// Format describes the source without its password, for every verb.
func (s *passwordSource) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }

// NewAzureADTokenSource returns a token source for Skype for Business Online from an Azure AD
// app registration (PROTOCOL.md §3), built on oauth2's clientcredentials.Config: the token is
// requested with resource= the UCWA host (e.g. "https://webdir1a.online.lync.com"), since
// Online needs a token per resource host. Use microsoft.AzureADEndpoint(tenant).TokenURL as
// cfg.TokenURL. For a delegated user token obtained elsewhere, pass oauth2.Config.TokenSource
// (ctx, token) as Config.TokenSource instead. Tokens are reused until shortly before expiry.
func NewAzureADTokenSource(ctx context.Context, cfg clientcredentials.Config, resource string) oauth2.TokenSource {
	params := url.Values{}
	for k, v := range cfg.EndpointParams {
		params[k] = append([]string(nil), v...)
	}
	if resource != "" {
		params.Set("resource", resource)
	}
	cfg.EndpointParams = params
	return cfg.TokenSource(ctx)
}

// tokenError turns an oauth2 token failure into an *Error (for an answer) or a transient
// error (for a transport failure, which oauth2 reports without its chain).
func tokenError(tokenURL string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		e := newError(http.MethodPost, tokenURL, re.Response, re.Body, scopeToken)
		if re.ErrorCode != "" {
			e.Code, e.NotUCWA = re.ErrorCode, false
			e.Message = re.ErrorDescription
		}
		return e
	}
	return &transientError{fmt.Errorf("ucwa: POST %s: token request: %w", redactURL(tokenURL), err)}
}

// transientError marks an error IsTransient recognises although its chain is lost.
type transientError struct{ err error }

func (t *transientError) Error() string { return t.err.Error() }
func (t *transientError) Unwrap() error { return t.err }

// tokenCache reuses a token until shortly before it expires, and drops it when the server
// rejects it. It is the Client's TokenSource.
type tokenCache struct {
	mu      sync.Mutex
	src     oauth2.TokenSource
	tok     *oauth2.Token
	renewAt time.Time
	fixed   bool // src came from Config.TokenSource and is never replaced
	// onSecret is Config.OnSecret: told every token as soon as it is obtained.
	onSecret func(string)
}

func newTokenCache(src oauth2.TokenSource) *tokenCache {
	return &tokenCache{src: src, fixed: src != nil}
}

// Token returns the cached token, fetching a new one when there is none or it is due for
// renewal (a tenth of its lifetime before expires_in runs out, at most five minutes before).
func (t *tokenCache) Token() (*oauth2.Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && (t.renewAt.IsZero() || time.Now().Before(t.renewAt)) {
		return t.tok, nil
	}
	if t.src == nil {
		return nil, ErrNotSignedIn
	}
	tok, err := t.src.Token()
	if err != nil {
		return nil, err
	}
	if tok.AccessToken == "" {
		return nil, errors.New("ucwa: token endpoint returned no access token")
	}
	if t.onSecret != nil {
		t.onSecret(tok.AccessToken)
		if tok.RefreshToken != "" {
			t.onSecret(tok.RefreshToken)
		}
	}
	t.tok, t.renewAt = tok, time.Time{}
	if !tok.Expiry.IsZero() {
		life := time.Until(tok.Expiry)
		t.renewAt = tok.Expiry.Add(-min(life/10, 5*time.Minute))
	}
	return tok, nil
}

// Invalidate drops the cached token if it is still access, so the next Token fetches anew.
func (t *tokenCache) Invalidate(access string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && t.tok.AccessToken == access {
		t.tok = nil
	}
}

// Drop drops the cached token, whatever it is, so the next Token fetches anew.
func (t *tokenCache) Drop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tok = nil
}

// setSource replaces the source (a new token endpoint), dropping the cached token. A source
// given in Config is kept.
func (t *tokenCache) setSource(src oauth2.TokenSource) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fixed {
		return
	}
	t.src, t.tok = src, nil
}

// TokenSource returns the token source the client uses: tokens are reused and renewed before
// expires_in runs out.
func (c *Client) TokenSource() oauth2.TokenSource { return c.tokens }

// setTokenURL records the MsRtcOAuth token endpoint and, for the password grant, points the
// token source at it when it changed.
func (c *Client) setTokenURL(u string) {
	c.mu.Lock()
	changed := u != c.tokenURL
	c.tokenURL = u
	c.mu.Unlock()
	if changed && c.cfg.TokenSource == nil {
		hc := *c.hc
		hc.Timeout = tokenTimeout
		if rt := c.cfg.RequestTimeout; rt > 0 && rt < hc.Timeout {
			hc.Timeout = rt
		}
		c.tokens.setSource(NewPasswordTokenSource(context.Background(), &hc, u, c.cfg.Username, c.cfg.Password))
	}
}

// challenge is what a 401's WWW-Authenticate headers say.
type challenge struct {
	TokenURL         string   // MsRtcOAuth href
	GrantTypes       []string // MsRtcOAuth grant_type
	AuthorizationURI string   // Bearer authorization_uri (Azure AD)
}

var (
	authSchemeRe = regexp.MustCompile(`(?i)(?:^|[\s,])(MsRtcOAuth|Bearer)\s+`)
	authParamRe  = regexp.MustCompile(`([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))`)
)

// parseChallenges reads the MsRtcOAuth and Bearer challenges (PROTOCOL.md §2.1 step 3: values
// may be quoted or unquoted). Of several MsRtcOAuth challenges, the last that names a token
// endpoint counts, with its grant types. ok is false when neither scheme is present.
func parseChallenges(values []string) (challenge, bool) {
	var ch challenge
	found := false
	for _, v := range values {
		// Schemes and parameters are found in masked, where quoted text is
		// blanked out, so that a quoted value that reads like a scheme or a
		// parameter is neither; their values are read from v.
		masked := maskQuoted(v)
		locs := authSchemeRe.FindAllStringSubmatchIndex(masked, -1)
		for i, loc := range locs {
			end := len(v)
			if i+1 < len(locs) {
				end = locs[i+1][0]
			}
			scheme := strings.ToLower(v[loc[2]:loc[3]])
			found = true
			seg := v[loc[1]:end]
			var href string
			var grants []string
			for _, m := range authParamRe.FindAllStringSubmatchIndex(masked[loc[1]:end], -1) {
				val := ""
				if m[6] >= 0 {
					val = seg[m[6]:m[7]]
				} else {
					val = strings.ReplaceAll(seg[m[4]:m[5]], `\"`, `"`)
				}
				switch key := strings.ToLower(seg[m[2]:m[3]]); {
				case scheme == "msrtcoauth" && key == "href":
					href = val
				case scheme == "msrtcoauth" && key == "grant_type":
					for _, g := range strings.Split(val, ",") {
						if g = strings.TrimSpace(g); g != "" {
							grants = append(grants, g)
						}
					}
				case scheme == "bearer" && key == "authorization_uri":
					ch.AuthorizationURI = val
				}
			}
			// The last MsRtcOAuth challenge that names an endpoint counts,
			// with its own grant types.
			if href != "" {
				ch.TokenURL, ch.GrantTypes = href, grants
			}
		}
	}
	return ch, found
}

// maskQuoted returns v with the inside of every quoted string (RFC 9110
// quoted-string, backslash escapes included) replaced by 'x', byte for
// byte, so that indices into it are indices into v.
func maskQuoted(v string) string {
	b := []byte(v)
	in := false
	for i := 0; i < len(b); i++ {
		switch {
		case !in && b[i] == '"':
			in = true
		case in && b[i] == '"':
			in = false
		case in && b[i] == '\\' && i+1 < len(b):
			b[i], b[i+1] = 'x', 'x'
			i++
		case in:
			b[i] = 'x'
		}
	}
	return string(b)
}

// allowsPassword reports whether the challenge lists the password grant (or lists none).
func (ch challenge) allowsPassword() bool {
	if len(ch.GrantTypes) == 0 {
		return true
	}
	for _, g := range ch.GrantTypes {
		if g == "password" {
			return true
		}
	}
	return false
}

// String describes the cache without the token or its source's secrets.
func (t *tokenCache) String() string { return "ucwa.TokenSource" }

// Format describes the cache like String, for every verb.
func (t *tokenCache) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }
