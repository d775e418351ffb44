package redisstore

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"unicode"

	"github.com/redis/go-redis/v9"
)

// FuzzCheckURL checks the strict store URL parser: it never panics; a
// refusal is a *URLError that shows the URL as RedactURL does and never
// holds a password the URL carries; and a URL it accepts is one go-redis
// reads without filling in another host (dial builds its client, and a
// single server's address is the URL's host).
func FuzzCheckURL(f *testing.F) {
	for _, u := range []string{
		"redis://127.0.0.1:6379/0", "redis://localhost", "redis://:Hunter2@cache.example.com:6380/2",
		"redis://user:Hunter2@cache.example.com/15?dial_timeout=2s", "rediss://cache.example.com:6380",
		"REDIS://CACHE.example.com:6379", "redis://[::1]:6379/0",
		"redis://sentinel-1:26379/0?master_name=mymaster&addr=sentinel-2:26379&sentinel_password=Sentinel9",
		"redis+cluster://node-1:6379?addr=node-2:6379&password=Hunter2", "rediss+cluster://node-1:6379",
		"unix:///run/redis/redis.sock?db=3", "redis:user:Hunter2@host:6379", "redis:/redis.contoso.com:6379/0",
		"redis://local host:6379", "redis://host:6379#x", "redis://localhost:6379/0?pool_sise=3",
		"redis://a:Hunter2%40x@h:1/0", "redis://Hunter2@h", "redis://h:6379/0?password=Hunter2&password=Other7",
		"unix://localhost/tmp/redis.sock", "redis://[::1", "redis://[::1]x:6379",
	} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := CheckURL(raw)
		if err == nil {
			checkAccepted(t, raw)
			return
		}
		var ue *URLError
		if !errors.As(err, &ue) {
			t.Fatalf("CheckURL(%q) = %T %v, not a *URLError", raw, err, err)
		}
		if ue.URL != RedactURL(raw) {
			t.Fatalf("CheckURL(%q): URL %q, want RedactURL's %q", raw, ue.URL, RedactURL(raw))
		}
		if ue.Reason == "" {
			t.Fatalf("CheckURL(%q): no reason", raw)
		}
		for _, s := range distinctSecrets(raw) {
			if strings.Contains(err.Error(), s) {
				t.Fatalf("CheckURL(%q) = %q: holds the password %q", raw, err, s)
			}
		}
	})
}

// checkAccepted checks that go-redis reads an accepted URL as written.
func checkAccepted(t *testing.T, raw string) {
	t.Helper()
	rdb, err := dial(raw)
	if err != nil {
		t.Fatalf("CheckURL accepts %q, dial refuses it: %v", raw, err)
	}
	_ = rdb.Close()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("CheckURL accepts %q, url.Parse refuses it: %v", raw, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "redis" && scheme != "rediss" || u.Query().Has("master_name") {
		return
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("CheckURL accepts %q, redis.ParseURL refuses it: %v", raw, err)
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil || host != u.Hostname() {
		t.Fatalf("CheckURL accepts %q, whose host is %q; go-redis dials %q", raw, u.Hostname(), o.Addr)
	}
}

// distinctSecrets returns the passwords raw carries that an error could
// show only by leaking them: written as they are (no % escapes), once in
// raw, and unlike any text of the errors (at least 6 bytes, with an upper
// case letter and a digit).
func distinctSecrets(raw string) []string {
	var out []string
	for _, s := range URLSecrets(raw) {
		if len(s) < 6 || strings.Count(raw, s) != 1 ||
			!strings.ContainsFunc(s, unicode.IsUpper) || !strings.ContainsFunc(s, unicode.IsDigit) {
			continue
		}
		out = append(out, s)
	}
	return out
}
