package ucwa

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// maxRedirects bounds how many root/user redirect links discovery follows.
const maxRedirects = 5

// ErrDiscovery is wrapped by every discovery failure that is not an *Error from the user
// resource or the token endpoint.
var ErrDiscovery = errors.New("ucwa: discovery failed")

// SignIn runs discovery and sign-in (PROTOCOL.md §2): GET the lyncdiscover root, follow its
// user link, read the MsRtcOAuth challenge of the 401 for the token endpoint, obtain a
// "cwt=..." token with the password grant (or use Config.TokenSource), GET the user resource
// again with the token and cache its applications href, following redirect links on the way.
//
// The applications href is cached (§2.1 step 5): once it is known, SignIn only drops the
// current token and obtains a new one, unless the server has since answered 403 or 502, or
// requests failed to connect persistently (NeedsRediscovery), in which case it runs discovery
// again. Rediscover forces discovery. Concurrent requests keep working meanwhile.
func (c *Client) SignIn(ctx context.Context) error {
	c.mu.Lock()
	cached, need := c.applicationsURL, c.rediscover
	c.mu.Unlock()
	if cached == "" || need {
		return c.Rediscover(ctx)
	}
	c.tokens.Drop()
	if _, err := c.tokens.Token(); err != nil {
		// The next SignIn starts over from the lyncdiscover root.
		c.markRediscover()
		return fmt.Errorf("ucwa: sign in: %w", err)
	}
	return nil
}

// Rediscover runs discovery from the lyncdiscover root whatever is cached (the sign-out case
// of PROTOCOL.md §2.1 step 5) and signs in, like a first SignIn.
func (c *Client) Rediscover(ctx context.Context) error {
	c.markRediscover()
	var errs []error
	for _, root := range c.roots() {
		userHref, err := c.discoverRoot(ctx, root)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.tokens.Drop() // signing in again means a new token
		return c.signInUser(ctx, userHref)
	}
	return fmt.Errorf("%w: %w", ErrDiscovery, errors.Join(errs...))
}

// NeedsRediscovery reports whether the next SignIn runs discovery again: before the first
// successful sign-in, and after a 403 or 502 answer or persistent connection failures
// (PROTOCOL.md §2.1 step 5).
func (c *Client) NeedsRediscovery() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.applicationsURL == "" || c.rediscover
}

// markRediscover makes the next SignIn run discovery.
func (c *Client) markRediscover() {
	c.mu.Lock()
	c.rediscover = true
	c.mu.Unlock()
}

// connFailureLimit is how many requests in a row may fail to get any answer before the
// cached applications href is distrusted ("persistent connection failures", §2.1 step 5).
const connFailureLimit = 3

// noteOutcome records what an authorised request's outcome says about the cached discovery
// result: status is the final HTTP status, or 0 when no answer came.
func (c *Client) noteOutcome(status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case status == 0:
		c.connFailures++
		if c.connFailures >= connFailureLimit {
			c.rediscover = true
		}
		return
	case status == http.StatusForbidden || status == http.StatusBadGateway:
		c.rediscover = true
	}
	c.connFailures = 0
}

// roots lists the discovery roots to try in order (§2.1 step 1): the HTTPS roots, then their
// HTTP variants, whose answer must be a redirect to HTTPS.
func (c *Client) roots() []string {
	if c.cfg.DiscoveryURL != "" {
		return []string{c.cfg.DiscoveryURL}
	}
	d := domainOf(c.cfg.Address)
	return []string{
		"https://lyncdiscoverinternal." + d, "https://lyncdiscover." + d,
		"http://lyncdiscoverinternal." + d, "http://lyncdiscover." + d,
	}
}

// discoverRoot GETs a root (no token) and returns its user href, following redirect links.
func (c *Client) discoverRoot(ctx context.Context, root string) (string, error) {
	href := root
	hc := c.hc
	from := "discovery_url"
	if c.cfg.DiscoveryURL == "" {
		// §2.1 step 1: the http variants of the derived roots may only redirect to https.
		ctx = context.WithValue(ctx, plainRootKey{}, root)
		from = "the discovery roots derived from " + domainOf(c.cfg.Address)
		// §2.1 step 1: a 302 to another domain fails the try.
		dc := *c.hc
		dc.CheckRedirect = c.policyRedirect(sameDomainRedirect(domainOf(c.cfg.Address)))
		hc = &dc
	}
	for range maxRedirects {
		resp, data, err := c.send(withFrom(ctx, from), hc, http.MethodGet, href, "", nil, "")
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			return "", newError(http.MethodGet, href, resp, data, scopeAny)
		}
		if c.cfg.DiscoveryURL == "" && resp.Request.URL.Scheme != "https" {
			return "", fmt.Errorf("ucwa: root %s answered over %s without a redirect to https",
				redactURL(href), resp.Request.URL.Scheme)
		}
		r, err := decodeAt(data, resp.Request.URL.String())
		if err != nil {
			return "", err
		}
		if u := r.Links.Href("user"); u != "" {
			return u, nil
		}
		next := r.Links.Href("redirect")
		if next == "" {
			return "", fmt.Errorf("ucwa: root %s has neither user nor redirect link", redactURL(href))
		}
		from = "the redirect link of " + redactURL(href)
		href = next
	}
	return "", fmt.Errorf("ucwa: root %s: more than %d redirects", redactURL(root), maxRedirects)
}

// withFrom names, for a refusal's message, where the next request's URL came from.
func withFrom(ctx context.Context, from string) context.Context {
	return context.WithValue(ctx, linkFromKey{}, from)
}

// signInUser gets a token for the user resource and reads its applications href.
func (c *Client) signInUser(ctx context.Context, userHref string) error {
	ctx = withFrom(ctx, "the user link of the discovery root")
	for range maxRedirects {
		if err := c.challengeFor(ctx, userHref); err != nil {
			return err
		}
		user, err := c.Get(ctx, userHref)
		if err != nil {
			return fmt.Errorf("ucwa: sign in: %w", err)
		}
		if apps := user.Links.Href("applications"); apps != "" {
			c.mu.Lock()
			c.applicationsURL, c.rediscover, c.connFailures = apps, false, 0
			c.mu.Unlock()
			return nil
		}
		next := user.Links.Href("redirect")
		if next == "" {
			return fmt.Errorf("%w: user resource %s has neither applications nor redirect link", ErrDiscovery, redactURL(userHref))
		}
		// A user homed in another pool: repeat the challenge against the new location (§2.1 step 4).
		userHref = next
		ctx = withFrom(ctx, "the redirect link of the user resource")
	}
	return fmt.Errorf("%w: more than %d user redirects", ErrDiscovery, maxRedirects)
}

// challengeFor GETs href without a token; a 401 with an MsRtcOAuth challenge names the token
// endpoint. With Config.TokenSource the challenge is only checked, not required.
func (c *Client) challengeFor(ctx context.Context, href string) error {
	resp, data, err := c.send(ctx, c.hc, http.MethodGet, href, "", nil, "")
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return nil // no authentication demanded
		}
		return newError(http.MethodGet, href, resp, data, scopeAny)
	}
	ch, _ := parseChallenges(resp.Header.Values("WWW-Authenticate"))
	if c.cfg.TokenSource != nil {
		return nil
	}
	if ch.TokenURL == "" {
		return fmt.Errorf("%w: %s answered 401 without an MsRtcOAuth challenge", ErrDiscovery, redactURL(href))
	}
	if !ch.allowsPassword() {
		return fmt.Errorf("%w: token endpoint does not allow the password grant (allows %s)",
			ErrDiscovery, strings.Join(ch.GrantTypes, ", "))
	}
	tu := resolveAgainst(href, ch.TokenURL)
	if err := c.checkHost(tu, "the MsRtcOAuth challenge of "+redactURL(href)); err != nil {
		return err
	}
	c.setTokenURL(tu)
	return nil
}

// ApplicationsURL returns the applications href found by SignIn, "" before.
func (c *Client) ApplicationsURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.applicationsURL
}

// resolveAgainst resolves href against the URL base (a string).
func resolveAgainst(base, href string) string {
	b, err := url.Parse(base)
	if err != nil {
		return href
	}
	return resolveHref(b, href)
}

// sameDomainRedirect refuses HTTP redirects that leave domain (or its subdomains) or lead to
// anything but https (§2.1 step 1: an HTTP root is answered with a redirect to HTTPS).
func sameDomainRedirect(domain string) func(*http.Request, []*http.Request) error {
	domain = strings.ToLower(domain)
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if req.URL.Scheme != "https" {
			return fmt.Errorf("%w: redirect to %s is not https", ErrDiscovery, redactURL(req.URL.String()))
		}
		host := strings.ToLower(req.URL.Hostname())
		if host != domain && !strings.HasSuffix(host, "."+domain) {
			return fmt.Errorf("%w: redirect to %s leaves %s", ErrDiscovery, host, domain)
		}
		return nil
	}
}
