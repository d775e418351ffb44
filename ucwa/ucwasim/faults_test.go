package ucwasim

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestInject_status_with_Retry_After_for_N_requests(t *testing.T) {
	s := newServer(t, Options{})
	bot := available(t, s, "sip:bot@contoso.com")
	rma := href(embedded(bot.app, "me"), "reportMyActivity")
	s.Inject(Fault{Rel: "reportMyActivity", Status: 503, RetryAfter: 5 * time.Second, Times: 2})
	for i := 0; i < 2; i++ {
		resp, b := bot.do("POST", rma, "", "")
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" || !strings.Contains(string(b), `"code":"ServiceUnavailable"`) {
			t.Fatalf("try %d: %d %v %s", i, resp.StatusCode, resp.Header, b)
		}
	}
	bot.json("POST", rma, "", "", 204)
}

func TestInject_matches_method_rel_and_user(t *testing.T) {
	s := newServer(t, Options{})
	bot := available(t, s, "sip:bot@contoso.com")
	alice := available(t, s, "sip:alice@contoso.com")
	s.Inject(Fault{User: "sip:alice@contoso.com", Method: "GET", Rel: "application", Status: 500, Code: "ServiceFailure", Subcode: "InvalidExchangeServerVersion"})
	bot.json("GET", href(bot.app, "self"), "", "", 200)
	alice.json("POST", href(embedded(alice.app, "me"), "reportMyActivity"), "", "", 204)
	m := alice.json("GET", href(alice.app, "self"), "", "", 500)
	if m["subcode"] != "InvalidExchangeServerVersion" {
		t.Errorf("fault body = %v", m)
	}
	alice.json("GET", href(alice.app, "self"), "", "", 200)
}

func TestInject_HTML_proxy_page(t *testing.T) {
	s := newServer(t, Options{})
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	s.Inject(Fault{Rel: "events", Status: 502, HTML: true})
	resp, b := bot.do("GET", bot.next, "", "")
	if resp.StatusCode != 502 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(b), "<html>") {
		t.Errorf("html fault = %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
}

func TestInject_drop_and_delay(t *testing.T) {
	s := newServer(t, Options{})
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	self := href(bot.app, "self")
	s.Inject(Fault{Rel: "application", Drop: true})
	req, _ := http.NewRequest("GET", s.URL()+self, nil)
	req.Header.Set("Authorization", "Bearer "+bot.token)
	fresh := &http.Client{Transport: &http.Transport{}} // a new connection: no silent retry
	if resp, err := fresh.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped request answered %d", resp.StatusCode)
	}
	fresh.CloseIdleConnections()
	s.Inject(Fault{Rel: "application", Delay: 50 * time.Millisecond})
	start := time.Now()
	bot.json("GET", self, "", "", 200)
	if time.Since(start) < 50*time.Millisecond {
		t.Error("delay fault not applied")
	}
	var dropped bool
	for _, r := range s.Requests() {
		dropped = dropped || (r.Rel == "application" && r.Status == -1 && r.User == "sip:bot@contoso.com")
	}
	if !dropped {
		t.Errorf("request log lacks the dropped request: %+v", s.Requests())
	}
}

func TestInject_on_the_token_endpoint_by_user(t *testing.T) {
	s := newServer(t, Options{})
	s.Inject(Fault{Rel: "token", User: "sip:bot@contoso.com", Status: 500})
	c := &tc{t: t, s: s}
	c.json("POST", s.URL()+tokenPath, "application/x-www-form-urlencoded", "grant_type=password&username=alice@contoso.com&password=pw", 200)
	c.json("POST", s.URL()+tokenPath, "application/x-www-form-urlencoded", "grant_type=password&username=bot@contoso.com&password=pw", 500)
	c.json("POST", s.URL()+tokenPath, "application/x-www-form-urlencoded", "grant_type=password&username=bot@contoso.com&password=pw", 200)
}

func TestRequests_log_names_rel_user_and_status(t *testing.T) {
	s := newServer(t, Options{})
	bot := available(t, s, "sip:bot@contoso.com")
	bot.poll()
	var got []string
	for _, r := range s.Requests() {
		got = append(got, r.Method+" "+r.Rel+" "+r.User+" "+http.StatusText(r.Status))
	}
	want := []string{
		"GET root  OK",
		"GET user  Unauthorized",
		"POST token sip:bot@contoso.com OK",
		"GET user sip:bot@contoso.com OK",
		"POST applications sip:bot@contoso.com Created",
		"POST makeMeAvailable sip:bot@contoso.com No Content",
		"GET application sip:bot@contoso.com OK",
		"GET events sip:bot@contoso.com OK",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
