package ucwa

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ErrUntrustedHost is wrapped by every refusal to send a request (and so the password, a
// token or an authorised call) to a host the account does not trust.
var ErrUntrustedHost = errors.New("ucwa: untrusted host")

// trusts reports whether host may receive the account's credentials: the SIP domain and its
// subdomains, the host of DiscoveryURL, and Config.TrustedHosts.
func (c *Client) trusts(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if d := strings.ToLower(domainOf(c.cfg.Address)); d != "" && (host == d || strings.HasSuffix(host, "."+d)) {
		return true
	}
	if u, err := url.Parse(c.cfg.DiscoveryURL); err == nil && c.cfg.DiscoveryURL != "" && strings.EqualFold(u.Hostname(), host) {
		return true
	}
	for _, h := range c.cfg.TrustedHosts {
		if strings.EqualFold(strings.TrimSuffix(h, "."), host) {
			return true
		}
	}
	return false
}

// ErrInsecureHTTP is wrapped by every refusal to send a request over plain http for an account
// that does not allow it (Config.InsecureHTTP).
var ErrInsecureHTTP = errors.New("ucwa: plain http refused")

// checkHost returns an error naming the host, where the link came from and the setting that
// would allow it, when href leads to a host the account does not trust, or is plain http for
// an account that does not allow it.
func (c *Client) checkHost(href, from string) error { return c.checkURL(href, from, false) }

// checkURL is checkHost; plainOK lets one plain http URL through (a derived discovery root,
// whose answer must redirect to https).
func (c *Client) checkURL(href, from string, plainOK bool) error {
	u, err := url.Parse(href)
	if err != nil {
		return fmt.Errorf("ucwa: %s: %w", from, err)
	}
	if u.Scheme != "https" && !c.cfg.InsecureHTTP && !(plainOK && u.Scheme == "http") {
		return fmt.Errorf("%w: %s (%s, from %s) is not https; set accounts[].insecure_http: true to allow plain http (a simulator or test bed only)",
			ErrInsecureHTTP, u.Hostname(), redactURL(href), from)
	}
	if !c.trusts(u.Hostname()) {
		return fmt.Errorf("%w: %s (%s, from %s) is outside %s; add it to trusted_hosts to allow it",
			ErrUntrustedHost, u.Hostname(), redactURL(href), from, domainOf(c.cfg.Address))
	}
	return nil
}

// policyRedirect wraps an HTTP client's redirect check with the host policy.
func (c *Client) policyRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if next != nil {
			if err := next(req, via); err != nil {
				return err
			}
		}
		if len(via) > 0 && via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return fmt.Errorf("%w: redirect from %s to %s leaves https", ErrUntrustedHost,
				redactURL(via[len(via)-1].URL.String()), redactURL(req.URL.String()))
		}
		if err := c.checkHost(req.URL.String(), "a redirect from "+redactURL(via[len(via)-1].URL.String())); err != nil {
			return err
		}
		if next == nil && len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}
