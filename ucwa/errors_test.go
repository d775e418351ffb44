package ucwa

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func resp(status int, ctype string, hdr ...string) *http.Response {
	h := http.Header{}
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Add(hdr[i], hdr[i+1])
	}
	return &http.Response{StatusCode: status, Header: h}
}

func TestError_text_and_sentinels(t *testing.T) {
	const appURL = "https://h/ucwa/oauth/v1/applications/1"
	jsonBody := func(code, sub string) []byte {
		return []byte(fmt.Sprintf(`{"code":%q,"subcode":%q,"message":"m"}`, code, sub))
	}
	cases := []struct {
		name      string
		e         *Error
		is        []error
		isNot     []error
		transient bool
	}{
		{"401", newError("GET", appURL, resp(401, "text/html"), []byte("<html><title>401 - Unauthorized</title></html>"), scopeAny),
			[]error{ErrUnauthorized}, []error{ErrApplicationGone}, false},
		{"403 InvalidToken body", newError("GET", appURL, resp(403, "application/json"), jsonBody("Forbidden", "InvalidToken"), scopeAny),
			[]error{ErrUnauthorized}, nil, false},
		{"403 InvalidToken warning", newError("GET", appURL, resp(403, "", "Warning", `120 lync "InvalidToken"`), nil, scopeAny),
			[]error{ErrUnauthorized}, nil, false},
		{"403 plain", newError("GET", appURL, resp(403, "application/json"), jsonBody("Forbidden", ""), scopeAny),
			nil, []error{ErrUnauthorized}, false},
		{"404 ApplicationNotFound", newError("GET", appURL+"/me", resp(404, "application/json"), jsonBody("NotFound", "ApplicationNotFound"), scopeAny),
			[]error{ErrApplicationGone}, []error{ErrSubscriptionGone}, false},
		{"404 on the application", newError("GET", appURL, resp(404, "application/json"), jsonBody("NotFound", ""), scopeApplication),
			[]error{ErrApplicationGone}, nil, false},
		{"404 elsewhere", newError("GET", appURL+"/x", resp(404, "application/json"), jsonBody("NotFound", ""), scopeAny),
			nil, []error{ErrApplicationGone}, false},
		{"404 subscription with ApplicationNotFound", newError("POST", appURL+"/people/presenceSubscriptions/1", resp(404, "application/json"), jsonBody("NotFound", "ApplicationNotFound"), scopeSubscription),
			[]error{ErrSubscriptionGone}, []error{ErrApplicationGone}, false},
		{"410 expired", newError("GET", appURL, resp(410, "application/json"), jsonBody("Gone", "InactiveApplicationExpired"), scopeAny),
			[]error{ErrApplicationGone}, nil, false},
		{"410 CannotRedirect", newError("GET", appURL, resp(410, "application/json"), jsonBody("Gone", "CannotRedirect"), scopeAny),
			[]error{ErrApplicationGone}, nil, false},
		{"410 TooManyApplications", newError("POST", appURL, resp(410, "application/json"), jsonBody("Gone", "TooManyApplications"), scopeAny),
			nil, []error{ErrApplicationGone}, false},
		{"410 without subcode on the application itself", newError("GET", appURL, resp(410, "application/json"), jsonBody("Gone", ""), scopeApplication),
			[]error{ErrApplicationGone}, nil, false},
		{"410 without subcode elsewhere", newError("GET", appURL+"/x", resp(410, "application/json"), jsonBody("Gone", ""), scopeAny),
			nil, []error{ErrApplicationGone}, false},
		{"409 MakeMeAvailableRequired", newError("POST", appURL+"/me/reportMyActivity", resp(409, "application/json; charset=utf-8"), jsonBody("Conflict", "MakeMeAvailableRequired"), scopeAny),
			[]error{ErrMakeMeAvailableRequired}, []error{ErrPGetReplaced}, false},
		{"409 PGetReplaced", newError("GET", appURL+"/events?ack=3", resp(409, "application/vnd.microsoft.com.ucwa+json"), jsonBody("Conflict", "PGetReplaced"), scopeAny),
			[]error{ErrPGetReplaced}, []error{ErrMakeMeAvailableRequired}, false},
		{"429", newError("POST", appURL, resp(429, "application/json", "Retry-After", "7"), jsonBody("TooManyRequests", ""), scopeAny),
			[]error{ErrThrottled}, nil, true},
		{"503 with Retry-After", newError("POST", appURL, resp(503, "application/json", "Retry-After", "3"), jsonBody("ServiceUnavailable", ""), scopeAny),
			[]error{ErrThrottled}, nil, true},
		{"503 without Retry-After", newError("POST", appURL, resp(503, "application/json"), jsonBody("ServiceUnavailable", ""), scopeAny),
			nil, []error{ErrThrottled}, true},
		{"501", newError("POST", appURL, resp(501, "application/json"), jsonBody("NotImplemented", ""), scopeAny),
			nil, nil, false},
		{"408", newError("POST", appURL, resp(408, "application/json"), jsonBody("ClientTimeout", ""), scopeAny),
			nil, nil, true},
		{"token invalid_grant", newError("POST", "https://h/WebTicket/oauthtoken", resp(400, "application/json"), []byte(`{"error":"invalid_grant"}`), scopeToken),
			[]error{ErrInvalidGrant}, []error{ErrUnauthorized}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, s := range c.is {
				if !errors.Is(fmt.Errorf("wrapped: %w", c.e), s) {
					t.Errorf("%v is not %v", c.e, s)
				}
			}
			for _, s := range c.isNot {
				if errors.Is(c.e, s) {
					t.Errorf("%v is %v", c.e, s)
				}
			}
			if IsTransient(c.e) != c.transient {
				t.Errorf("IsTransient(%v) = %v", c.e, !c.transient)
			}
		})
	}
}

func TestError_message_format(t *testing.T) {
	e := newError("POST", "https://h/ucwa/oauth/v1/applications/1/me/reportMyActivity?secret=abc#f",
		resp(409, "application/json"), []byte(`{"code":"Conflict","subcode":"MakeMeAvailableRequired","message":"call it"}`), scopeAny)
	want := "ucwa: POST https://h/ucwa/oauth/v1/applications/1/me/reportMyActivity: 409 Conflict (code Conflict, subcode MakeMeAvailableRequired): call it"
	if e.Error() != want {
		t.Errorf("got  %s\nwant %s", e.Error(), want)
	}
	if strings.Contains(fmt.Sprintf("%+v %#v", e, e), "abc") {
		t.Error("query value leaked")
	}
}

func TestError_HTML_proxy_page(t *testing.T) {
	e := newError("GET", "https://h/ucwa/x", resp(502, "text/html"),
		[]byte("<html><head><title>502 Bad\n Gateway</title></head><body>nginx</body></html>"), scopeAny)
	if !e.NotUCWA || e.Code != "" || e.Message != "502 Bad Gateway" || !IsTransient(e) {
		t.Errorf("%+v", e)
	}
	if !strings.Contains(e.Error(), "not a UCWA answer") {
		t.Error(e.Error())
	}
	// JSON content type but not a UCWA error body.
	e = newError("GET", "https://h/ucwa/x", resp(500, "application/json"), []byte(`{"foo":1}`), scopeAny)
	if !e.NotUCWA {
		t.Errorf("%+v", e)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"5":                             5 * time.Second,
		"0":                             0,
		"-3":                            0,
		"junk":                          0,
		"Thu, 01 Jan 2026 12:00:30 GMT": 30 * time.Second,
		"Thu, 01 Jan 2026 11:00:00 GMT": 0,
		"99999999999999":                24 * time.Hour,
	}
	for in, want := range cases {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestIsTransient_network(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("other"), false},
		{context.Canceled, false},
		{&url.Error{Op: "Get", URL: "u", Err: context.Canceled}, false},
		{&url.Error{Op: "Get", URL: "u", Err: io.EOF}, true},
		{io.ErrUnexpectedEOF, true},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{&url.Error{Op: "Get", URL: "u", Err: timeoutErr{}}, true},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{ErrUnauthorized, false},
	}
	for _, c := range cases {
		if got := IsTransient(c.err); got != c.want {
			t.Errorf("IsTransient(%v) = %v", c.err, got)
		}
	}
}
