package ops

import (
	"crypto/sha256"
	"crypto/subtle"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// hostCheck refuses a request whose Host header names neither the listen
// address nor a configured name, so that a web page whose own name was
// re-pointed at this address (DNS rebinding) cannot read the answers: the
// browser sends the page's name as Host. localhost and the loopback IPs
// on the listen port are accepted on a loopback address; on an
// unspecified address (0.0.0.0, [::]) any IP literal on the listen port is
// accepted, since a page can only carry an IP as its own origin when it
// came from that IP.
func (o *Options) hostCheck(next http.Handler) http.Handler {
	lhost, lport, _ := net.SplitHostPort(o.Listen)
	lip := net.ParseIP(lhost)
	unspecified := lhost == "" || (lip != nil && lip.IsUnspecified())
	loopback := loopbackHost(lhost)
	allowed := map[string]bool{}
	for _, h := range o.AllowedHosts {
		allowed[strings.ToLower(strings.TrimSuffix(h, "."))] = true
	}
	ok := func(hostport string) bool {
		host, port, err := net.SplitHostPort(hostport)
		if err != nil {
			host, port = hostport, ""
		}
		host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
		if allowed[host] {
			return true
		}
		if o.Listen == "" {
			return host == "localhost" || net.ParseIP(host) != nil
		}
		if port != lport {
			return false
		}
		ip := net.ParseIP(host)
		switch {
		case strings.EqualFold(host, strings.Trim(lhost, "[]")) && !unspecified:
			return true
		case loopback || unspecified:
			return host == "localhost" || (ip != nil && (ip.IsLoopback() || unspecified))
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ok(r.Host) {
			writeJSON(w, http.StatusMisdirectedRequest, errorBody{"host " + quoteHost(r.Host) +
				" is not this server's address; list the name in admin.allowed_hosts to reach the server by it"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// quoteHost shows a Host header in an error without letting it inject text.
func quoteHost(h string) string {
	if len(h) > 100 {
		h = h[:100] + "…"
	}
	return "\"" + strings.Map(func(r rune) rune {
		if r < 0x20 || r == '"' || r == 0x7f {
			return '?'
		}
		return r
	}, h) + "\""
}

// sameSite refuses a request a browser sent on behalf of another site: an
// Origin other than the server's own (the Host), or Sec-Fetch-Site
// cross-site or same-site. Requests without these headers (curl, scripts)
// pass.
func sameSite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.ToLower(r.Header.Get("Sec-Fetch-Site")) {
		case "cross-site", "same-site":
			writeJSON(w, http.StatusForbidden, errorBody{"admin API refuses cross-site requests (Sec-Fetch-Site)"})
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" {
			u, err := url.Parse(origin)
			if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
				writeJSON(w, http.StatusForbidden, errorBody{"admin API refuses cross-site requests (Origin " + quoteHost(origin) + " is not this server)"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// stateChanging reports whether the call changes something: anything but
// GET and HEAD.
func stateChanging(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead
}

// jsonOnly refuses a (state-changing) call whose Content-Type is not
// application/json: a browser sends that type across sites only after a
// CORS preflight, which this server never grants, while a form or a
// text/plain fetch needs none.
func jsonOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			writeJSON(w, http.StatusUnsupportedMediaType, errorBody{r.Method + " admin calls need Content-Type: application/json"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// guard lets an admin call through when it carries the token. With no
// token configured it answers loopback clients only, and lets
// state-changing calls through only when the operator opted out of the
// token for loopback (admin.allow_loopback_without_token).
func (a *admin) guard(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(a.o.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.o.Token == "" {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			if !loopbackHost(host) {
				writeJSON(w, http.StatusForbidden, errorBody{"admin API answers loopback clients only when no admin token is configured"})
				return
			}
			if stateChanging(r) && !a.o.AllowLoopbackWithoutToken {
				w.Header().Set("WWW-Authenticate", `Bearer realm="ucwabot admin"`)
				writeJSON(w, http.StatusUnauthorized, errorBody{r.Method + " admin calls need a token: set admin.token_env or admin.token_file (or admin.allow_loopback_without_token: true)"})
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(tok))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ucwabot admin"`)
			writeJSON(w, http.StatusUnauthorized, errorBody{"admin API needs Authorization: Bearer <token>"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
