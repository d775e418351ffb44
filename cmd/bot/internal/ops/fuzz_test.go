package ops

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

const fuzzToken = "admin-token-0123456789"

// fuzzRoutes are the admin routes: the state-changing ones first.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/admin/rules/reload"},
	{"DELETE", "/admin/conversations"},
	{"GET", "/admin/conversations"},
	{"GET", "/admin/rules"},
}

// adminFixture is the admin API over stubs that never fail, reached as
// 127.0.0.1:8080 from a loopback client.
type adminFixture struct {
	h     http.Handler
	rules *rulesStub
	convs *convStub
}

func newAdminFixture() *adminFixture {
	f := &adminFixture{
		rules: &rulesStub{set: RuleSet{Version: "v1", Rules: []RuleInfo{{Name: "greet", File: "r.yaml", Line: 3}}}},
		convs: &convStub{state: map[[2]string]map[string]json.RawMessage{
			{"sip:bot@example.com", "/ucwa/conv/1"}: {"greeted": json.RawMessage(`true`)},
			{"sip:bot@example.com", "/ucwa/conv/2"}: {"step": json.RawMessage(`2`)},
		}},
	}
	f.h = Handler(Options{Listen: "127.0.0.1:8080", Rules: f.rules, Conversations: f.convs, Token: fuzzToken})
	return f
}

func (f *adminFixture) serve(method, path, query, contentType, origin string, body []byte, auth bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://127.0.0.1:8080"+path, bytes.NewReader(body))
	req.URL.RawQuery = query
	req.RemoteAddr = "127.0.0.1:50000"
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+fuzzToken)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w
}

// FuzzAdminRequest drives every admin route with fuzzed bodies, query
// parameters, content types and origins. It checks that the API never
// panics and never answers 5xx (its stubs never fail); that every refusal
// is a JSON {"error": ...}; that a refused or read-only call changes
// nothing; and that the body, which no route reads, changes no answer.
func FuzzAdminRequest(f *testing.F) {
	cursor := cursorOf(Conversation{Account: "sip:bot@example.com", ID: "/ucwa/conv/1"})
	drop := url.Values{"account": {"sip:bot@example.com"}, "id": {"/ucwa/conv/1"}}.Encode()
	for i := range fuzzRoutes {
		for _, q := range []string{"", drop, "limit=1", "limit=1000&cursor=" + cursor, "cursor=" + cursor + "x", "limit=0", "account=&id=x"} {
			f.Add(uint8(i), q, "application/json", "", []byte("{}"))
		}
		f.Add(uint8(i), drop, "application/json; charset=utf-8", "http://127.0.0.1:8080", []byte(`{"account":"sip:bot@example.com","id":"/ucwa/conv/1"}`))
		f.Add(uint8(i), drop, "text/plain", "https://evil.example", []byte("account=x"))
		f.Add(uint8(i), drop, "text/plain", "", []byte("account=x"))
		f.Add(uint8(i), drop, "", "", []byte("{}"))
		f.Add(uint8(i), drop, "application/json", "", []byte(`{"a":`))
		f.Add(uint8(i|0x80), drop, "application/json", "", []byte("null"))
	}
	f.Fuzz(func(t *testing.T, route uint8, query, contentType, origin string, body []byte) {
		rt := fuzzRoutes[int(route&0x7f)%len(fuzzRoutes)]
		auth := route&0x80 == 0

		fx := newAdminFixture()
		before := fx.snapshot()
		w := fx.serve(rt.method, rt.path, query, contentType, origin, body, auth)
		code := w.Code
		if code >= 500 {
			t.Fatalf("%s %s?%s: %d %s", rt.method, rt.path, query, code, w.Body)
		}
		if code >= 400 {
			var e errorBody
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("%s %s?%s: %d with Content-Type %q", rt.method, rt.path, query, code, ct)
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%s %s?%s: %d without a JSON error: %q", rt.method, rt.path, query, code, w.Body)
			}
		}
		if (code >= 400 || rt.method == "GET") && !fx.snapshot().equal(before) {
			t.Fatalf("%s %s?%s: %d and the state changed", rt.method, rt.path, query, code)
		}
		// The same call without a body gets the same answer.
		ref := newAdminFixture().serve(rt.method, rt.path, query, contentType, origin, nil, auth)
		if ref.Code != code || ref.Body.String() != w.Body.String() {
			t.Fatalf("%s %s?%s: the body %q changes the answer: %d %q, without it %d %q",
				rt.method, rt.path, query, body, code, w.Body, ref.Code, ref.Body)
		}
	})
}

// adminState is what the admin API can change.
type adminState struct {
	reloads int
	version string
	convs   map[[2]string]string
}

func (f *adminFixture) snapshot() adminState {
	f.rules.mu.Lock()
	s := adminState{reloads: f.rules.reloads, version: f.rules.set.Version, convs: map[[2]string]string{}}
	f.rules.mu.Unlock()
	f.convs.mu.Lock()
	defer f.convs.mu.Unlock()
	for k, v := range f.convs.state {
		b, _ := json.Marshal(v)
		s.convs[k] = string(b)
	}
	return s
}

func (s adminState) equal(o adminState) bool {
	return s.reloads == o.reloads && s.version == o.version && maps.Equal(s.convs, o.convs)
}
