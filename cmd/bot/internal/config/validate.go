package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/store/redisstore"
)

// Validate checks every setting and returns all problems joined, each a
// *FieldError naming its key (and, for a loaded file, its position).
func (c *Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fieldErr(key, format, args...))
	}

	if len(c.Accounts) == 0 {
		add("accounts", "at least one account is required")
	}
	seen := map[string]int{}
	for i, a := range c.Accounts {
		key := fmt.Sprintf("accounts[%d]", i)
		addr := strings.ToLower(strings.TrimPrefix(a.Address, "sip:"))
		switch {
		case a.Address == "":
			add(key+".address", "is required")
		case !validAddress(addr):
			add(key+".address", "%q is not a sign-in address such as bot@example.com", a.Address)
		default:
			if j, dup := seen[addr]; dup {
				add(key+".address", "%q is already accounts[%d]", a.Address, j)
			}
			seen[addr] = i
		}
		if a.DiscoveryURL != "" {
			u, err := url.Parse(a.DiscoveryURL)
			switch {
			case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
				add(key+".discovery_url", "%q is not an http or https URL", a.DiscoveryURL)
			case u.Scheme == "http" && !a.InsecureHTTP:
				add(key+".discovery_url", "%q is plain http: use https, or set %s.insecure_http: true for a simulator (docs/security.md)", a.DiscoveryURL, key)
			}
		}
		for j, h := range a.TrustedHosts {
			if h == "" || strings.ContainsAny(h, "/:@ ") {
				add(fmt.Sprintf("%s.trusted_hosts[%d]", key, j), "%q is not a host name such as pool01.fabrikam.net", h)
			}
		}
		switch {
		case a.PasswordEnv == "" && a.PasswordFile == "":
			add(key, "set password_env or password_file")
		case a.PasswordEnv != "" && a.PasswordFile != "":
			add(key+".password_file", "set password_env or password_file, not both")
		}
		for j, s := range a.Subscribe {
			if !validAddress(strings.ToLower(strings.TrimPrefix(s, "sip:"))) {
				add(fmt.Sprintf("%s.subscribe[%d]", key, j), "%q is not a SIP URI such as sip:alice@example.com", s)
			}
		}
	}

	if len(c.Rules) == 0 {
		add("rules", "at least one rules file or directory is required")
	}
	for i, r := range c.Rules {
		if strings.TrimSpace(r) == "" {
			add(fmt.Sprintf("rules[%d]", i), "is empty")
		}
	}

	if c.Store.URL != "" {
		if err := redisstore.CheckURL(c.Store.URL); err != nil {
			var ue *redisstore.URLError
			if errors.As(err, &ue) {
				add("store.url", "%q: %s", ue.URL, ue.Reason)
			} else {
				add("store.url", "%v", err)
			}
		}
	} else if c.Store.Path == "" {
		add("store.path", "is required when store.url is empty")
	}
	if msg := checkPrefix(c.Store.Prefix); msg != "" {
		add("store.prefix", "%q %s", c.Store.Prefix, msg)
	}

	if err := c.validateListen(); err != nil {
		errs = append(errs, err)
	}
	if c.Admin.TokenEnv != "" && c.Admin.TokenFile != "" {
		add("admin.token_file", "set admin.token_env or admin.token_file, not both")
	}
	for i, h := range c.Admin.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/@ ") || strings.Count(h, ":") == 1 {
			add(fmt.Sprintf("admin.allowed_hosts[%d]", i), "%q is not a host name without port such as bot.example.com", h)
		}
	}
	for i, h := range c.Webhooks.AllowedHosts {
		if strings.TrimPrefix(h, "*.") == "" || strings.ContainsAny(h, "/:@ ") {
			add(fmt.Sprintf("webhooks.allowed_hosts[%d]", i), "%q is not a host name such as hooks.example.com or *.example.com", h)
		}
	}

	switch c.Log.Format {
	case "json", "text":
	default:
		add("log.format", "%q is not json or text", c.Log.Format)
	}
	if _, err := logrus.ParseLevel(c.Log.Level); err != nil || c.Log.Level == "panic" || c.Log.Level == "fatal" {
		add("log.level", "%q is not trace, debug, info, warn or error", c.Log.Level)
	}

	e := c.Engine
	if e.Workers < 1 || e.Workers > 1024 {
		add("engine.workers", "%d is outside 1..1024", e.Workers)
	}
	if e.QueueSize < 1 {
		add("engine.queue_size", "%d is not positive", e.QueueSize)
	}
	positive := map[string]time.Duration{
		"engine.handler_timeout": e.HandlerTimeout,
		"engine.drain_timeout":   e.DrainTimeout,
		"engine.backoff.initial": e.Backoff.Initial,
	}
	for _, k := range []string{"engine.handler_timeout", "engine.drain_timeout", "engine.backoff.initial"} {
		if positive[k] <= 0 {
			add(k, "%s is not positive", positive[k])
		}
	}
	if e.IdleAfter < 0 || e.IdleAfter > 0 && e.IdleAfter < time.Second {
		add("engine.idle_after", "%s is neither 0 (off) nor at least 1s", e.IdleAfter)
	}
	if e.PersonTTL < time.Minute {
		add("engine.person_ttl", "%s is under 1m", e.PersonTTL)
	}
	if e.NotifyRate <= 0 || e.NotifyRate > 1000 {
		add("engine.notify_rate", "%g is outside (0, 1000] messages a second", e.NotifyRate)
	}
	if e.NotifyBurst < 1 || e.NotifyBurst > 10000 {
		add("engine.notify_burst", "%d is outside 1..10000", e.NotifyBurst)
	}
	switch e.Handover {
	case "auto", "always", "never":
	default:
		add("engine.handover", "%q is not auto, always or never", e.Handover)
	}
	if e.LeaseTTL < 3*time.Second {
		add("engine.lease_ttl", "%s is under 3s", e.LeaseTTL)
	}
	if e.Backoff.Max < e.Backoff.Initial {
		add("engine.backoff.max", "%s is below engine.backoff.initial (%s)", e.Backoff.Max, e.Backoff.Initial)
	}
	// A comparison with NaN is false, hence the explicit checks.
	if m := e.Backoff.Multiplier; math.IsNaN(m) || math.IsInf(m, 0) {
		add("engine.backoff.multiplier", "%g is not a finite number", m)
	} else if m < 1 {
		add("engine.backoff.multiplier", "%g is below 1", m)
	}
	if j := e.Backoff.Jitter; math.IsNaN(j) || j < 0 || j >= 1 {
		add("engine.backoff.jitter", "%g is outside [0, 1)", e.Backoff.Jitter)
	}

	if c.Transcripts.Retention < 0 {
		add("transcripts.retention", "%s is negative", c.Transcripts.Retention)
	}
	if n := c.Transcripts.MaxEntries; n < 1 || n > 100000 {
		add("transcripts.max_entries", "%d is outside 1..100000", n)
	}

	k := c.KeepAlive
	// PROTOCOL.md 5.2: without reportMyActivity for 4 minutes the bot turns Away.
	// The engine jitters the interval by up to 10%; the worst case must stay
	// under the server's 4 minutes.
	if k.ActivityInterval <= 0 || float64(k.ActivityInterval)*1.1 >= float64(4*time.Minute) {
		add("keepalive.activity_interval", "%s must be above 0 and, with its 10%% jitter, under 4m (at most 3m38s)", k.ActivityInterval)
	}
	// PROTOCOL.md 7.1: a presence subscription lives 10 to 30 minutes.
	if k.SubscriptionDuration < 10*time.Minute || k.SubscriptionDuration > 30*time.Minute {
		add("keepalive.subscription_duration", "%s is outside 10m..30m", k.SubscriptionDuration)
	}
	// PROTOCOL.md 6.1: the P-GET timeout is 180 to 1800 seconds.
	if k.PollTimeout < 180*time.Second || k.PollTimeout > 1800*time.Second {
		add("keepalive.poll_timeout", "%s is outside 3m..30m", k.PollTimeout)
	}
	return errors.Join(errs...)
}

func (c *Config) validateListen() error {
	host, port, err := net.SplitHostPort(c.HTTP.Listen)
	if err != nil || port == "" {
		return fieldErr("http.listen", "%q is not host:port (such as 127.0.0.1:8080)", c.HTTP.Listen)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fieldErr("http.listen", "%q: port %q is not a number in 0..65535", c.HTTP.Listen, port)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostName(host) {
		return fieldErr("http.listen", "%q: host %q is not an IP address or host name", c.HTTP.Listen, host)
	}
	if !IsLoopback(host) && c.Admin.TokenEnv == "" && c.Admin.TokenFile == "" {
		return fieldErr("http.listen", "%q is not a loopback address: set admin.token_env or admin.token_file so that admin calls need a token", c.HTTP.Listen)
	}
	return nil
}

// IsLoopback reports whether host (from host:port) only accepts
// connections from this machine. An empty host listens everywhere.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validAddress(s string) bool {
	user, domain, ok := strings.Cut(s, "@")
	return ok && user != "" && domain != "" && !strings.ContainsAny(s, " \t/<>") && !strings.Contains(domain, "@")
}

// checkPrefix says what is wrong with a store key prefix, "" when nothing.
func checkPrefix(p string) string {
	switch {
	case p == "":
		return "is empty; keys need a prefix (default ucwabot)"
	case strings.ContainsAny(p, "{}"):
		return "must not contain { or }: the store uses them for the account's hash tag"
	case strings.IndexFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return "must not contain spaces or control characters"
	case len(p) > 64:
		return "is longer than 64 bytes"
	}
	return ""
}

// validHostName reports whether s is a DNS host name: dot-separated labels
// of letters, digits and hyphens, none starting or ending with a hyphen.
func validHostName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
