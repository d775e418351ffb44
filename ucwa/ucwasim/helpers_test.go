package ucwasim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tc is a raw HTTP test client of the simulator (no ucwa package).
type tc struct {
	t     testing.TB
	s     *Server
	token string
	app   map[string]any
	next  string // next events href
}

// do sends a request; href may be relative to the server.
func (c *tc) do(method, href, ctype, body string) (*http.Response, []byte) {
	c.t.Helper()
	u := href
	if strings.HasPrefix(href, "/") {
		u = c.s.URL() + href
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, href, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, b
}

// json sends a request and decodes the JSON answer, failing unless the status is want.
func (c *tc) json(method, href, ctype, body string, want int) map[string]any {
	c.t.Helper()
	resp, b := c.do(method, href, ctype, body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, href, resp.StatusCode, want, b)
	}
	if len(b) == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("%s %s: %v: %s", method, href, err, b)
	}
	return m
}

var challengeRE = regexp.MustCompile(`MsRtcOAuth href="([^"]+)"`)

// signIn runs discovery, the token grant and creates the application of uri.
func signIn(t testing.TB, s *Server, uri, password string) *tc {
	t.Helper()
	c := &tc{t: t, s: s}
	root := c.json("GET", s.DiscoveryURL(), "", "", 200)
	userHref := href(root, "user")
	resp, _ := c.do("GET", userHref, "", "")
	if resp.StatusCode != 401 {
		t.Fatalf("user without token: %d", resp.StatusCode)
	}
	var tokenURL string
	for _, h := range resp.Header.Values("WWW-Authenticate") {
		if m := challengeRE.FindStringSubmatch(h); m != nil {
			tokenURL = m[1]
		}
	}
	if tokenURL == "" {
		t.Fatalf("no MsRtcOAuth challenge: %v", resp.Header)
	}
	form := url.Values{"grant_type": {"password"}, "username": {strings.TrimPrefix(uri, "sip:")}, "password": {password}}
	tok := c.json("POST", tokenURL, "application/x-www-form-urlencoded;charset=UTF-8", form.Encode(), 200)
	c.token = tok["access_token"].(string)
	user := c.json("GET", userHref, "", "", 200)
	c.app = c.json("POST", href(user, "applications"), "application/json",
		`{"UserAgent":"test","EndpointId":"ep-`+uri+`","Culture":"en-US"}`, 201)
	c.next = href(c.app, "events")
	return c
}

// available signs in and makes the application available.
func available(t testing.TB, s *Server, uri string) *tc {
	c := signIn(t, s, uri, "pw")
	me := embedded(c.app, "me")
	c.json("POST", href(me, "makeMeAvailable"), "application/json", `{"SupportedModalities":["Messaging"]}`, 204)
	c.app = c.json("GET", href(c.app, "self"), "", "", 200)
	return c
}

// poll issues one P-GET on the next link with a short timeout and returns the body.
func (c *tc) poll() map[string]any {
	c.t.Helper()
	u, _ := url.Parse(c.next)
	q := u.Query()
	q.Set("timeout", "1")
	u.RawQuery = q.Encode()
	b := c.json("GET", u.String(), "", "", 200)
	links := b["_links"].(map[string]any)
	for _, k := range []string{"resync", "resume", "next"} {
		if l, ok := links[k]; ok {
			c.next = l.(map[string]any)["href"].(string)
			break
		}
	}
	return b
}

func decode(b []byte) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// flat is one event flattened out of a batch.
type flat struct {
	sender, rel, typ, in string
	ev                   map[string]any
}

func (f flat) String() string {
	s := f.sender + ">" + f.rel
	if f.in != "" {
		s += "(in " + f.in + ")"
	}
	return s + ":" + f.typ
}

func flatten(b map[string]any) []flat {
	var out []flat
	senders, _ := b["sender"].([]any)
	for _, sd := range senders {
		sm := sd.(map[string]any)
		for _, e := range sm["events"].([]any) {
			em := e.(map[string]any)
			f := flat{sender: sm["rel"].(string), rel: em["link"].(map[string]any)["rel"].(string), typ: em["type"].(string), ev: em}
			if in, ok := em["in"].(map[string]any); ok {
				f.in = in["rel"].(string)
			}
			out = append(out, f)
		}
	}
	return out
}

// collect polls until the flattened events match n entries or the deadline passes.
func (c *tc) collect(n int) []flat {
	c.t.Helper()
	var out []flat
	deadline := time.Now().Add(5 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		out = append(out, flatten(c.poll())...)
	}
	return out
}

func href(res map[string]any, rel string) string {
	l, _ := res["_links"].(map[string]any)
	switch v := l[rel].(type) {
	case map[string]any:
		h, _ := v["href"].(string)
		return h
	}
	return ""
}

func embedded(res map[string]any, rel string) map[string]any {
	e, _ := res["_embedded"].(map[string]any)
	m, _ := e[rel].(map[string]any)
	return m
}

func newServer(t *testing.T, o Options) *Server {
	t.Helper()
	if o.TimeScale == 0 {
		o.TimeScale = 20 // a 1 s P-GET timeout takes 50 ms
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for _, u := range []string{"sip:bot@contoso.com", "sip:alice@contoso.com", "sip:bob@contoso.com"} {
		if err := s.AddUser(u, "pw", ""); err != nil {
			t.Fatal(err)
		}
	}
	return s
}
