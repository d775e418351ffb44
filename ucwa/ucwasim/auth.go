package ucwasim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// token is an issued access token.
type token struct {
	user    *user
	expires time.Time // simulated
}

// challenge returns the MsRtcOAuth WWW-Authenticate value for requests reaching host.
func (s *Server) challenge(r *http.Request) string {
	return `MsRtcOAuth href="` + baseURL(r) + tokenPath +
		`",grant_type="urn:microsoft.rtc:windows,urn:microsoft.rtc:anonymous,password"`
}

// baseURL is the scheme and host the client used to reach the server.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// handleRoot answers the lyncdiscover root: links to the user resource and the xframe.
func (s *Server) handleRoot(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "", "")
		return
	}
	b := baseURL(r)
	q := "?originalDomain=" + s.opt.Domain
	writeJSON(w, http.StatusOK, map[string]any{"_links": map[string]any{
		"self":   lk(b + rootPath + q),
		"user":   lk(b + userPath + q),
		"xframe": lk(b + xframePath),
	}})
}

// handleUser answers the user resource (the caller is authenticated): the applications link.
func (s *Server) handleUser(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "", "")
		return
	}
	b := baseURL(r)
	writeJSON(w, http.StatusOK, map[string]any{"_links": map[string]any{
		"self":         lk(b + userPath),
		"applications": lk(b + appsPath),
		"xframe":       lk(b + xframePath),
	}})
}

// handleToken is the MsRtcOAuth token endpoint (password grant).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "password":
	case "":
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	default:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type"})
		return
	}
	if sc := r.PostForm.Get("scope"); sc != "" && sc != "all" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_scope"})
		return
	}
	s.mu.Lock()
	u := s.users[normURI(r.PostForm.Get("username"))]
	if u == nil || u.password != r.PostForm.Get("password") {
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant"})
		return
	}
	tok := "cwt=" + randToken()
	s.tokens[tok] = &token{user: u, expires: s.clock.now().Add(s.opt.TokenLifetime)}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":         tok,
		"expires_in":           int64(s.opt.TokenLifetime / time.Second),
		"ms_rtc_identityscope": "local",
		"token_type":           "Bearer",
	})
}

// authenticate returns the user of the request's bearer token, or answers 401 with the
// challenge and returns nil.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *user {
	tok, ok := bearer(r)
	s.mu.Lock()
	t := s.tokens[tok]
	if t != nil && !s.clock.now().Before(t.expires) {
		delete(s.tokens, tok)
		t = nil
	}
	s.mu.Unlock()
	if ok && t != nil {
		return t.user
	}
	if u := s.verifiedUser(tok, ok && t == nil); u != nil {
		return u
	}
	w.Header().Add("WWW-Authenticate", `Bearer trusted_issuers="00000002-0000-0ff1-ce00-000000000000@`+s.opt.Domain+`", client_id="00000004-0000-0ff1-ce00-000000000000"`)
	w.Header().Add("WWW-Authenticate", s.challenge(r))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte("<html><head><title>401 - Unauthorized</title></head><body><h1>401 - Unauthorized</h1></body></html>"))
	return nil
}

// verifiedUser asks Options.VerifyBearer about a token the server did not issue (when
// foreign) and returns the user it vouches for, or nil.
func (s *Server) verifiedUser(tok string, foreign bool) *user {
	if !foreign || tok == "" || s.opt.VerifyBearer == nil {
		return nil
	}
	uri, ok := s.opt.VerifyBearer(tok)
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[normURI(uri)]
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "Bearer ") {
		return "", false
	}
	return strings.TrimSpace(h[7:]), true
}

// requestUser names the user a request acts for, for fault matching and the request log:
// the token's user, or the username of a token request.
func (s *Server) requestUser(r *http.Request, rt route) string {
	if rt.rel == "token" && r.Method == http.MethodPost {
		if err := r.ParseForm(); err == nil {
			return normURI(r.PostForm.Get("username"))
		}
		return ""
	}
	tok, ok := bearer(r)
	if !ok {
		return ""
	}
	s.mu.Lock()
	t := s.tokens[tok]
	s.mu.Unlock()
	if t != nil {
		return t.user.uri
	}
	if u := s.verifiedUser(tok, true); u != nil {
		return u.uri
	}
	return ""
}

// RevokeTokens invalidates every token of uri: its next request gets 401 and the challenge.
func (s *Server) RevokeTokens(uri string) {
	uri = normURI(uri)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.tokens {
		if t.user.uri == uri {
			delete(s.tokens, k)
		}
	}
}

func randToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newID returns an id no other id made by this server has (conversations, invitations,
// applications, subscriptions): a sequence number then 48 random bits, in lower-case hex, so
// ids never collide within a run and differ between runs. The caller holds s.mu.
func (s *Server) newID() string {
	s.idSeq++
	return strconv.FormatUint(s.idSeq, 16) + randID(6)
}

func randID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
