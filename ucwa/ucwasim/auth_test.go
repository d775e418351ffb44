package ucwasim

import (
	"strings"
	"testing"
	"time"
)

func TestUser_without_token_gets_the_MsRtcOAuth_challenge(t *testing.T) {
	s := newServer(t, Options{})
	c := &tc{t: t, s: s}
	resp, _ := c.do("GET", s.URL()+userPath, "", "")
	if resp.StatusCode != 401 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	h := resp.Header.Values("WWW-Authenticate")
	if len(h) != 2 || !strings.HasPrefix(h[0], "Bearer ") ||
		h[1] != `MsRtcOAuth href="`+s.URL()+`/WebTicket/oauthtoken",grant_type="urn:microsoft.rtc:windows,urn:microsoft.rtc:anonymous,password"` {
		t.Errorf("challenges = %q", h)
	}
}

func TestToken_errors(t *testing.T) {
	s := newServer(t, Options{})
	c := &tc{t: t, s: s}
	for _, tt := range []struct{ name, body, want string }{
		{"bad password", "grant_type=password&username=bot@contoso.com&password=nope", "invalid_grant"},
		{"unknown user", "grant_type=password&username=eve@contoso.com&password=pw", "invalid_grant"},
		{"other grant", "grant_type=urn:microsoft.rtc:passive", "unsupported_grant_type"},
		{"no grant", "username=bot@contoso.com", "invalid_request"},
		{"bad scope", "grant_type=password&username=bot@contoso.com&password=pw&scope=x", "invalid_scope"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := c.json("POST", s.URL()+tokenPath, "application/x-www-form-urlencoded", tt.body, 400)
			if m["error"] != tt.want {
				t.Errorf("error = %v, want %s", m["error"], tt.want)
			}
		})
	}
}

func TestApplications_accept_property_names_in_any_case(t *testing.T) {
	s := newServer(t, Options{})
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	apps := s.URL() + appsPath
	a1 := bot.json("POST", apps, "application/json", `{"userAgent":"x","endpointId":"e1","culture":"en-US"}`, 201)
	a2 := bot.json("POST", apps, "application/json", `{"USERAGENT":"x","ENDPOINTID":"e1","CULTURE":"en-US"}`, 200)
	if href(a1, "self") != href(a2, "self") {
		t.Errorf("same endpoint gave a new application: %s vs %s", href(a1, "self"), href(a2, "self"))
	}
	m := bot.json("POST", apps, "application/json", `{"userAgent":"x"}`, 400)
	if m["subcode"] != "ParameterValidationFailure" {
		t.Errorf("missing fields = %v", m)
	}
	m = bot.json("POST", apps, "application/json", `{nope`, 400)
	if m["subcode"] != "DeserializationFailure" {
		t.Errorf("bad json = %v", m)
	}
}

func TestMakeMeAvailable_is_required_first(t *testing.T) {
	s := newServer(t, Options{})
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	me := bot.json("GET", href(embedded(bot.app, "me"), "self"), "", "", 200)
	base := href(me, "self")
	for _, p := range []string{"/reportMyActivity", "/presence", "/note"} {
		method := "POST"
		if p != "/reportMyActivity" {
			method = "GET"
		}
		m := bot.json(method, base+p, "", "", 409)
		if m["code"] != "Conflict" || m["subcode"] != "MakeMeAvailableRequired" {
			t.Errorf("%s %s = %v", method, p, m)
		}
	}
	if got := s.Presence("sip:bot@contoso.com"); got != "Offline" {
		t.Errorf("lurker presence = %s", got)
	}
	bot.json("POST", href(me, "makeMeAvailable"), "application/json", `{"signInAs":"Busy"}`, 204)
	bot.json("POST", base+"/reportMyActivity", "", "", 204)
	if got := s.Presence("sip:bot@contoso.com"); got != "Busy" {
		t.Errorf("presence = %s", got)
	}
	bot.json("POST", base+"/presence", "application/json", `{"availability":"Online"}`, 204)
	bot.json("POST", base+"/note", "application/json", `{"message":"on duty"}`, 204)
	if n := bot.json("GET", base+"/note", "", "", 200); n["message"] != "on duty" {
		t.Errorf("note = %v", n)
	}
	if p := bot.json("GET", base+"/presence", "", "", 200); p["availability"] != "Online" {
		t.Errorf("presence = %v", p)
	}
}

func TestDelete_application_then_404_ApplicationNotFound(t *testing.T) {
	s := newServer(t, Options{})
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	self := href(bot.app, "self")
	bot.json("DELETE", self, "", "", 204)
	m := bot.json("GET", self, "", "", 404)
	if m["subcode"] != "ApplicationNotFound" {
		t.Errorf("after delete = %v", m)
	}
}

func TestTokens_expire_and_can_be_revoked(t *testing.T) {
	s := newServer(t, Options{TimeScale: 600, TokenLifetime: 5 * time.Minute, AppIdleTimeout: time.Hour})
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	self := href(bot.app, "self")
	bot.json("GET", self, "", "", 200)
	time.Sleep(600 * time.Millisecond) // 6 simulated minutes
	resp, _ := bot.do("GET", self, "", "")
	if resp.StatusCode != 401 || len(resp.Header.Values("WWW-Authenticate")) != 2 {
		t.Fatalf("expired token: %d %v", resp.StatusCode, resp.Header)
	}
	bot2 := signIn(t, s, "sip:alice@contoso.com", "pw")
	s.RevokeTokens("sip:alice@contoso.com")
	if resp, _ := bot2.do("GET", href(bot2.app, "self"), "", ""); resp.StatusCode != 401 {
		t.Fatalf("revoked token: %d", resp.StatusCode)
	}
}

func TestAnother_users_token_cannot_use_the_application(t *testing.T) {
	s := newServer(t, Options{})
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	alice := signIn(t, s, "sip:alice@contoso.com", "pw")
	if resp, _ := alice.do("GET", href(bot.app, "self"), "", ""); resp.StatusCode != 403 {
		t.Errorf("status = %d, want 403", resp.StatusCode)
	}
}
