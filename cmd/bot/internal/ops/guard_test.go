package ops

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// raw sends a request with the given headers, as a browser would.
func (f *fixture) raw(t *testing.T, method, path string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixture) reloads() int {
	f.rules.mu.Lock()
	defer f.rules.mu.Unlock()
	return f.rules.reloads
}

func TestAdmin_a_cross_site_text_plain_POST_is_refused(t *testing.T) {
	for _, token := range []string{"", "admin-token-0123456789"} {
		f := start(t, token, allowLoopback)
		auth := map[string]string{}
		if token != "" {
			// A browser may hold the token only in its own form; even with it the call is refused.
			auth["Authorization"] = "Bearer " + token
		}
		with := func(kv ...string) map[string]string {
			h := map[string]string{}
			for k, v := range auth {
				h[k] = v
			}
			for i := 0; i < len(kv); i += 2 {
				h[kv[i]] = kv[i+1]
			}
			return h
		}
		for _, tc := range []struct {
			name   string
			header map[string]string
			want   int
		}{
			{"foreign Origin, text/plain", with("Origin", "https://evil.example", "Content-Type", "text/plain"), 403},
			{"foreign Origin, application/json", with("Origin", "https://evil.example", "Content-Type", "application/json"), 403},
			{"null Origin", with("Origin", "null", "Content-Type", "application/json"), 403},
			{"Sec-Fetch-Site cross-site", with("Sec-Fetch-Site", "cross-site", "Content-Type", "application/json"), 403},
			{"Sec-Fetch-Site same-site", with("Sec-Fetch-Site", "same-site", "Content-Type", "application/json"), 403},
			{"text/plain without Origin", with("Content-Type", "text/plain"), 415},
			{"form without Origin", with("Content-Type", "application/x-www-form-urlencoded"), 415},
			{"no Content-Type", with(), 415},
		} {
			if code, body := f.raw(t, "POST", "/admin/rules/reload", tc.header, "{}"); code != tc.want {
				t.Errorf("token %v, %s: %d %s, want %d", token != "", tc.name, code, body, tc.want)
			}
		}
		if n := f.reloads(); n != 0 {
			t.Fatalf("token %v: %d reloads ran from refused requests", token != "", n)
		}
		// The operator's own call from the same origin goes through.
		same := with("Origin", f.base, "Sec-Fetch-Site", "same-origin", "Content-Type", "application/json")
		if code, body := f.raw(t, "POST", "/admin/rules/reload", same, ""); code != 200 {
			t.Errorf("token %v: same-origin JSON reload: %d %s", token != "", code, body)
		}
	}
}

func TestAdmin_state_changing_calls_must_be_POST_or_DELETE(t *testing.T) {
	f := start(t, "", allowLoopback)
	json := map[string]string{"Content-Type": "application/json"}
	for _, m := range []string{"PUT", "PATCH", "GET"} {
		if code, _ := f.raw(t, m, "/admin/rules/reload", json, ""); code != 405 {
			t.Errorf("%s /admin/rules/reload: %d, want 405", m, code)
		}
	}
	if code, _ := f.raw(t, "PUT", "/admin/conversations?account=a&id=b", json, ""); code != 405 {
		t.Errorf("PUT /admin/conversations: %d, want 405", code)
	}
	if code, _ := f.raw(t, "DELETE", "/admin/conversations?account=sip:bot@example.com&id=/ucwa/conv/1", map[string]string{"Content-Type": "text/plain"}, ""); code != 415 {
		t.Errorf("DELETE text/plain: %d, want 415", code)
	}
}

func TestAdmin_a_rebound_Host_is_refused(t *testing.T) {
	f := start(t, "")
	port := f.base[strings.LastIndex(f.base, ":")+1:]
	for _, host := range []string{"evil.example", "evil.example:" + port, "127.0.0.1.evil.example:" + port, "localhost:1", "127.0.0.2:" + port + "x"} {
		for _, path := range []string{"/admin/conversations", "/admin/rules", "/metrics"} {
			code, body := f.raw(t, "GET", path, map[string]string{"Host": host}, "")
			if code != http.StatusMisdirectedRequest || strings.Contains(body, "greeted") || strings.Contains(body, "go_goroutines") {
				t.Errorf("GET %s with Host %s: %d %.80s, want 421", path, host, code, body)
			}
		}
	}
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port} {
		if code, body := f.raw(t, "GET", "/admin/conversations", map[string]string{"Host": host}, ""); code != 200 {
			t.Errorf("GET with Host %s: %d %s", host, code, body)
		}
	}
}

func TestAdmin_allowed_hosts_names_more_hosts(t *testing.T) {
	f := start(t, "", func(o *Options) { o.AllowedHosts = []string{"bot.example.com"} })
	if code, body := f.raw(t, "GET", "/admin/rules", map[string]string{"Host": "bot.example.com"}, ""); code != 200 {
		t.Errorf("allowed host: %d %s", code, body)
	}
	if code, _ := f.raw(t, "GET", "/admin/rules", map[string]string{"Host": "evil.example"}, ""); code != 421 {
		t.Errorf("other host: %d", code)
	}
}

func TestAdmin_loopback_without_token_is_read_only_unless_opted_out(t *testing.T) {
	f := start(t, "")
	json := map[string]string{"Content-Type": "application/json"}
	code, body := f.raw(t, "POST", "/admin/rules/reload", json, "")
	if code != 401 || !strings.Contains(body, "admin.allow_loopback_without_token") {
		t.Errorf("reload on loopback without token: %d %s, want 401 naming the setting", code, body)
	}
	if code, _ := f.raw(t, "DELETE", "/admin/conversations?account=sip:bot@example.com&id=/ucwa/conv/1", json, ""); code != 401 {
		t.Errorf("drop on loopback without token: %d, want 401", code)
	}
	if n := f.reloads(); n != 0 {
		t.Fatalf("%d reloads ran", n)
	}
	if code, _ := f.raw(t, "GET", "/admin/conversations", nil, ""); code != 200 {
		t.Errorf("read on loopback without token: %d", code)
	}
	opted := start(t, "", allowLoopback)
	if code, body := opted.raw(t, "POST", "/admin/rules/reload", json, ""); code != 200 {
		t.Errorf("reload with allow_loopback_without_token: %d %s", code, body)
	}
}

func TestAdmin_conversations_are_paginated_and_size_bounded(t *testing.T) {
	f := start(t, "")
	f.convs.mu.Lock()
	big := json.RawMessage(`"` + strings.Repeat("x", 300<<10) + `"`)
	for i := range 250 {
		f.convs.state[[2]string{"sip:bot@example.com", fmt.Sprintf("/ucwa/conv/%03d", i)}] = map[string]json.RawMessage{"n": json.RawMessage(fmt.Sprint(i))}
	}
	for i := range 5 {
		f.convs.state[[2]string{"sip:zz@example.com", fmt.Sprintf("/big/%d", i)}] = map[string]json.RawMessage{"blob": big}
	}
	f.convs.state[[2]string{"sip:zz@example.com", "/huge"}] = map[string]json.RawMessage{"blob": json.RawMessage(`"` + strings.Repeat("y", 2<<20) + `"`)}
	f.convs.mu.Unlock()

	var pages []ConversationPage
	seen := map[string]bool{}
	cursor := ""
	for range 50 {
		code, body := f.raw(t, "GET", "/admin/conversations?limit=120&cursor="+cursor, nil, "")
		if code != 200 {
			t.Fatalf("page %d: %d %.200s", len(pages), code, body)
		}
		if len(body) > maxPageBytes+64<<10 {
			t.Fatalf("page %d is %d bytes", len(pages), len(body))
		}
		var p ConversationPage
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Conversations) > 120 {
			t.Fatalf("page of %d, limit 120", len(p.Conversations))
		}
		for _, c := range p.Conversations {
			if seen[c.Account+c.ID] {
				t.Fatalf("%s listed twice", c.ID)
			}
			seen[c.Account+c.ID] = true
			if c.ID == "/huge" && (!c.StateTruncated || c.State != nil) {
				t.Errorf("the 2 MiB state was not left out: %+v", c.StateTruncated)
			}
		}
		pages = append(pages, p)
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if len(seen) != 257 { // 250 small, 5 big, one huge and the fixture's own
		t.Fatalf("listed %d conversations over %d pages, want 257", len(seen), len(pages))
	}
	if len(pages) < 4 {
		t.Fatalf("%d pages: neither the limit nor the size bound split the list", len(pages))
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "cursor=%21%21"} {
		if code, _ := f.raw(t, "GET", "/admin/conversations?"+q, nil, ""); code != 400 {
			t.Errorf("?%s: %d, want 400", q, code)
		}
	}
	code, body := f.raw(t, "GET", "/admin/conversations", nil, "")
	var p ConversationPage
	if err := json.Unmarshal([]byte(body), &p); err != nil || code != 200 || len(p.Conversations) != defaultPageLimit {
		t.Fatalf("default page: %d, %d conversations (%v)", code, len(p.Conversations), err)
	}
}
