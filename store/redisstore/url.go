package redisstore

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// schemes are the URL schemes Open accepts.
var schemes = []string{"redis", "rediss", "redis+cluster", "rediss+cluster", "unix"}

// URLError is a store URL that Open refuses. URL is the URL as written with
// any password replaced by "xxxxx"; Reason says what is wrong with it.
type URLError struct {
	URL    string
	Reason string
}

// Error formats the error as `redisstore: url "redis:host:6379": missing "//" ...`.
func (e *URLError) Error() string {
	return fmt.Sprintf("redisstore: url %q: %s", e.URL, e.Reason)
}

// CheckURL reports whether rawURL is a URL Open accepts, strictly: a known
// scheme followed by "://", a host (a socket path for unix://), a numeric
// port, a numeric database and go-redis's own query options. A URL that
// go-redis would read with defaults filled in — "redis:localhost:6379" is
// localhost:6379 to it, whatever follows the colon — is an error, so a
// mistyped URL never reaches some other Redis. The error is a *URLError
// that never holds the URL's password.
func CheckURL(rawURL string) error {
	bad := func(format string, args ...any) error {
		return &URLError{URL: RedactURL(rawURL), Reason: fmt.Sprintf(format, args...)}
	}
	if rawURL == "" {
		return bad("is empty")
	}
	if strings.TrimSpace(rawURL) != rawURL || strings.ContainsAny(rawURL, " \t\r\n") {
		return bad("contains spaces")
	}
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		if s, _, colon := strings.Cut(rawURL, ":"); colon && knownScheme(strings.ToLower(s)) {
			_, after, _ := strings.Cut(RedactURL(rawURL), ":")
			return bad(`missing "//" after %q (write %s://%s)`, s+":", strings.ToLower(s), strings.TrimLeft(after, "/"))
		}
		return bad("is not a Redis URL (want redis://host:6379/0, rediss://..., redis+cluster://..., rediss+cluster://... or unix:///path/to/redis.sock)")
	}
	scheme = strings.ToLower(scheme)
	if !knownScheme(scheme) {
		return bad("unknown scheme %q (want %s)", scheme, strings.Join(schemes, ", "))
	}
	authority, _, _ := strings.Cut(rest, "/")
	authority, _, _ = strings.Cut(authority, "?")
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		authority = authority[i+1:]
	}
	if strings.Contains(rest, "#") {
		return bad("has a fragment (#...); Redis URLs have none")
	}
	if scheme == "unix" {
		u, err := url.Parse(rawURL)
		if err != nil {
			return bad("cannot be parsed")
		}
		if authority != "" {
			return bad("unix URLs take no host: write unix:///path/to/redis.sock")
		}
		if !strings.HasPrefix(u.Path, "/") || u.Path == "/" {
			return bad("names no socket path: write unix:///path/to/redis.sock")
		}
		return checkOptions(rawURL, scheme, bad)
	}
	host, port := authority, ""
	if strings.HasPrefix(authority, "[") {
		end := strings.Index(authority, "]")
		if end < 0 {
			return bad("has an unclosed [ in its host")
		}
		host, port = authority[:end+1], strings.TrimPrefix(authority[end+1:], ":")
		if rest := authority[end+1:]; rest != "" && !strings.HasPrefix(rest, ":") {
			return bad("has %q after its IPv6 host", rest)
		}
	} else if i := strings.LastIndex(authority, ":"); i >= 0 {
		host, port = authority[:i], authority[i+1:]
	}
	if host == "" {
		return bad("names no host (write %s://host:6379)", scheme)
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		return bad("host %q has more than one colon (an IPv6 address goes in brackets: [::1]:6379)", host)
	}
	if !validHost(host) {
		return bad("host %q is not a host name, an IPv4 address or a bracketed IPv6 address", host)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return bad("port %q is not a number in 1..65535", port)
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return bad("cannot be parsed (check %% escapes in the user name and password)")
	}
	db := strings.Trim(u.Path, "/")
	switch {
	case db == "":
	case strings.HasSuffix(scheme, "+cluster"):
		return bad("names database %q: a cluster has only database 0, write no path", db)
	default:
		if n, err := strconv.Atoi(db); err != nil || n < 0 || strings.Contains(u.Path[1:], "/") {
			return bad("path %q is not a database number such as /0", u.Path)
		}
	}
	return checkOptions(rawURL, scheme, bad)
}

// checkOptions lets go-redis parse the query options (unknown or malformed
// ones are its errors; they name the option, not the URL).
func checkOptions(rawURL, scheme string, bad func(string, ...any) error) error {
	var err error
	switch {
	case strings.HasSuffix(scheme, "+cluster"):
		_, err = redis.ParseClusterURL(strings.TrimSuffix(scheme, "+cluster") + rawURL[strings.Index(rawURL, "://"):])
	case scheme != "unix" && strings.Contains(rawURL, "master_name="):
		_, err = redis.ParseFailoverURL(rawURL)
	default:
		_, err = redis.ParseURL(rawURL)
	}
	if err != nil {
		msg := err.Error()
		if i := strings.LastIndex(msg, "redis: "); i >= 0 {
			msg = msg[i+len("redis: "):]
		}
		return bad("%s", msg)
	}
	return nil
}

// validHost reports whether host, from a URL's authority, is a host name
// or IPv4 address (letters, digits, '-', '_' and '.') or an IPv6 address in
// brackets, with a zone ("%25eth0") if any.
func validHost(host string) bool {
	if inner, ok := strings.CutPrefix(host, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		addr, _, _ := strings.Cut(inner, "%25")
		ip := net.ParseIP(addr)
		return ok && ip != nil && strings.Contains(addr, ":")
	}
	return !strings.ContainsFunc(host, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	})
}

func knownScheme(s string) bool {
	for _, k := range schemes {
		if s == k {
			return true
		}
	}
	return false
}

// RedactURL returns rawURL with the password (the user information's part
// after a colon, or all of it when it has no colon, as go-redis reads a
// lone user name as the password when no password is given) replaced by
// "xxxxx". It works on URLs that do not parse, too.
func RedactURL(rawURL string) string {
	return redactQuery(redactUserInfo(rawURL))
}

// redactQuery replaces the values of password= and sentinel_password= in
// the query, byte for byte elsewhere.
func redactQuery(rawURL string) string {
	base, query, ok := strings.Cut(rawURL, "?")
	if !ok {
		return rawURL
	}
	parts := strings.Split(query, "&")
	for i, p := range parts {
		k, _, has := strings.Cut(p, "=")
		if has && slices.Contains(secretParams, k) {
			parts[i] = k + "=xxxxx"
		}
	}
	return base + "?" + strings.Join(parts, "&")
}

func redactUserInfo(rawURL string) string {
	start := 0
	if i := strings.Index(rawURL, "://"); i >= 0 {
		start = i + 3
	} else if i := strings.Index(rawURL, ":"); i >= 0 {
		start = i + 1
	}
	end := len(rawURL)
	if i := strings.IndexAny(rawURL[start:], "/?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndex(rawURL[start:end], "@")
	if at < 0 {
		return rawURL
	}
	at += start
	user, _, hasPw := strings.Cut(rawURL[start:at], ":")
	if !hasPw {
		user = ""
	} else {
		user += ":"
	}
	return rawURL[:start] + user + "xxxxx" + rawURL[at:]
}
