package ucwa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Sentinels for what callers branch on, matched with errors.Is through (*Error).Is.
var (
	// ErrUnauthorized is a 401, or a 403 with subcode InvalidToken, that the one automatic
	// token re-acquisition did not cure.
	ErrUnauthorized = errors.New("ucwa: unauthorized")
	// ErrInvalidGrant is the token endpoint refusing the credentials (400 invalid_grant).
	ErrInvalidGrant = errors.New("ucwa: credentials refused")
	// ErrApplicationGone is the application deleted or expired server-side: 404
	// ApplicationNotFound, 410 InactiveApplicationExpired or CannotRedirect, or a 404 or a 410
	// without subcode on the application itself. Recreate the application (PROTOCOL.md §4.3).
	ErrApplicationGone = errors.New("ucwa: application gone")
	// ErrSubscriptionGone is a presence subscription that expired: the server answers 404 on
	// its URL (with subcode ApplicationNotFound, PROTOCOL.md §13.8). Create a new one.
	ErrSubscriptionGone = errors.New("ucwa: presence subscription gone")
	// ErrMakeMeAvailableRequired is 409 MakeMeAvailableRequired: call MakeMeAvailable first.
	ErrMakeMeAvailableRequired = errors.New("ucwa: makeMeAvailable required")
	// ErrPGetReplaced is 409 PGetReplaced: a newer P-GET with the same ack replaced this one.
	ErrPGetReplaced = errors.New("ucwa: P-GET replaced")
	// ErrThrottled is 429, or 503 with Retry-After; wait Error.RetryAfter.
	ErrThrottled = errors.New("ucwa: throttled")
	// ErrAnswerTooLarge is an answer longer than the client reads (8 MiB): fetching it again
	// gives the same answer.
	ErrAnswerTooLarge = errors.New("ucwa: answer too large")
	// ErrUndecodable is an event-channel answer that is not a batch of events.
	ErrUndecodable = errors.New("ucwa: undecodable answer")
)

// Error is every non-2xx answer. Its text names the method, the URL without its query, the
// status, and the UCWA code and subcode; it never carries a token or a password.
type Error struct {
	// Method is the HTTP method.
	Method string
	// URL is the requested URL without its query string.
	URL string
	// Status is the HTTP status code.
	Status int
	// Code, Subcode and Message are the UCWA error body's fields (for the token endpoint,
	// Code is its "error" value).
	Code, Subcode, Message string
	// RetryAfter is the Retry-After header (seconds or HTTP date); 0 when absent.
	RetryAfter time.Duration
	// NotUCWA reports that the body was not a UCWA error (e.g. a proxy's HTML page).
	NotUCWA bool

	// scope narrows what a 404 means; set by the operation that made the request.
	scope errScope
}

type errScope int

const (
	scopeAny          errScope = iota
	scopeApplication           // the request was on the application itself
	scopeSubscription          // the request was on a presence subscription
	scopeToken                 // the request was to the token endpoint
)

// Error formats the error as
// "ucwa: POST https://host/path: 409 Conflict (code Conflict, subcode X): message".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ucwa: %s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	switch {
	case e.Code != "" && e.Subcode != "":
		fmt.Fprintf(&b, " (code %s, subcode %s)", e.Code, e.Subcode)
	case e.Code != "":
		fmt.Fprintf(&b, " (code %s)", e.Code)
	case e.Subcode != "":
		fmt.Fprintf(&b, " (subcode %s)", e.Subcode)
	case e.NotUCWA:
		b.WriteString(" (not a UCWA answer)")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " retry after %s", e.RetryAfter)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Is matches the package's sentinels.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized ||
			(e.Status == http.StatusForbidden && strings.EqualFold(e.Subcode, "InvalidToken"))
	case ErrInvalidGrant:
		return e.scope == scopeToken && e.Status == http.StatusBadRequest && e.Code == "invalid_grant"
	case ErrSubscriptionGone:
		return e.scope == scopeSubscription && e.Status == http.StatusNotFound
	case ErrApplicationGone:
		if e.scope == scopeSubscription || e.scope == scopeToken {
			return false
		}
		switch e.Status {
		case http.StatusNotFound:
			return strings.EqualFold(e.Subcode, "ApplicationNotFound") || e.scope == scopeApplication
		case http.StatusGone:
			// 410 on the application itself without a subcode says the
			// same as InactiveApplicationExpired: it is gone.
			return strings.EqualFold(e.Subcode, "InactiveApplicationExpired") ||
				strings.EqualFold(e.Subcode, "CannotRedirect") ||
				e.scope == scopeApplication && e.Subcode == ""
		}
	case ErrMakeMeAvailableRequired:
		return e.Status == http.StatusConflict && strings.EqualFold(e.Subcode, "MakeMeAvailableRequired")
	case ErrPGetReplaced:
		return e.Status == http.StatusConflict && strings.EqualFold(e.Subcode, "PGetReplaced")
	case ErrThrottled:
		return e.Status == http.StatusTooManyRequests ||
			(e.Status == http.StatusServiceUnavailable && e.RetryAfter > 0)
	}
	return false
}

// IsTransient reports whether retrying the same request later may succeed: 5xx other than
// 501, 408, 429, network errors, timeouts and connections that ended early (PROTOCOL.md §6.5).
// A cancelled context is not transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var ue *Error
	if errors.As(err, &ue) {
		s := ue.Status
		return s == http.StatusRequestTimeout || s == http.StatusTooManyRequests ||
			(s >= 500 && s != http.StatusNotImplemented)
	}
	var te *transientError
	if errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	var urlErr *url.Error
	return errors.As(err, &urlErr) && errors.Is(err, io.EOF)
}

// wireError is a UCWA error body (§9) or a token endpoint error body (§2.2).
type wireError struct {
	Code    string `json:"code"`
	Subcode string `json:"subcode"`
	Message string `json:"message"`
	Error   string `json:"error"`
}

var htmlTitle = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// newError builds the *Error for a non-2xx response whose body was read into body.
func newError(method, rawURL string, resp *http.Response, body []byte, scope errScope) *Error {
	e := &Error{Method: method, URL: redactURL(rawURL), Status: resp.StatusCode, scope: scope}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var w wireError
	isJSON := mt == "application/json" || strings.HasSuffix(mt, "+json")
	if isJSON && json.Unmarshal(body, &w) == nil && (w.Code != "" || w.Error != "") {
		e.Code, e.Subcode, e.Message = w.Code, w.Subcode, w.Message
		if e.Code == "" {
			e.Code = w.Error
		}
	} else if len(strings.TrimSpace(string(body))) > 0 || mt != "" {
		e.NotUCWA = true
		if m := htmlTitle.FindSubmatch(body); m != nil {
			e.Message = strings.Join(strings.Fields(string(m[1])), " ")
		}
	}
	// Online tenants flag a bad token with "Warning: 120 ... InvalidToken" (PROTOCOL.md §2.3).
	if e.Subcode == "" && strings.Contains(strings.Join(resp.Header.Values("Warning"), " "), "InvalidToken") {
		e.Subcode = "InvalidToken"
	}
	if len(e.Message) > 300 {
		e.Message = e.Message[:300] + "…"
	}
	return e
}

// redactURL drops the query string and any user information, which could carry secrets.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexAny(raw, "?#"); i >= 0 {
			return raw[:i]
		}
		return raw
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.User = "", false, "", nil
	return u.String()
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		secs = min(secs, 24*3600)
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
