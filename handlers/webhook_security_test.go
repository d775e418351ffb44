package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
)

func TestWebhook_a_307_or_308_is_an_error_and_the_body_is_not_resent(t *testing.T) {
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		var mu sync.Mutex
		var got []string
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			got = append(got, r.Method+" "+string(b)+" "+r.Header.Get(handlers.SignatureHeader))
			mu.Unlock()
		}))
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/stolen", status)
		}))
		h := newWebhook(t, handlers.WebhookConfig{URL: hook.URL + "/hook", Secret: "redirect-secret", Retries: 2, Backoff: time.Millisecond})
		req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "confidential"))
		err := h.Handle(context.Background(), req)
		if err == nil || !strings.Contains(err.Error(), strconv.Itoa(status)) || !strings.Contains(err.Error(), "not followed") {
			t.Errorf("%d: %v, want an error naming the redirect", status, err)
		}
		if strings.Contains(err.Error(), "1 attempt") == false {
			t.Errorf("%d: a redirect was retried: %v", status, err)
		}
		mu.Lock()
		if len(got) != 0 {
			t.Errorf("%d: the redirect target received %q", status, got)
		}
		mu.Unlock()
		hook.Close()
		other.Close()
	}
}

func TestWebhook_signs_timestamp_and_body_so_a_receiver_can_refuse_replays(t *testing.T) {
	const secret = "ts-secret-91"
	var ts, sig string
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		ts, sig = r.Header.Get(handlers.TimestampHeader), r.Header.Get(handlers.SignatureHeader)
	}))
	defer srv.Close()
	h := newWebhook(t, handlers.WebhookConfig{URL: srv.URL, Secret: secret})
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "hi"))
	before := time.Now().Unix()
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || n < before-1 || n > time.Now().Unix()+1 {
		t.Fatalf("timestamp header %q, want the Unix time now", ts)
	}
	if sig != handlers.SignTimestamped([]byte(secret), ts, body) {
		t.Fatalf("signature %q is not HMAC(timestamp.body)", sig)
	}
	if sig == handlers.Sign([]byte(secret), body) || sig == handlers.SignTimestamped([]byte(secret), strconv.FormatInt(n-600, 10), body) {
		t.Fatal("the signature does not depend on the timestamp")
	}
}

func TestWebhookConfig_refuses_non_http_schemes(t *testing.T) {
	for _, u := range []string{"ftp://example.com/x", "file:///etc/passwd", "gopher://x", "javascript:alert(1)", "//host/x", "unix:///var/run/x.sock"} {
		if _, err := handlers.NewWebhook(handlers.WebhookConfig{URL: u}); err == nil {
			t.Errorf("url %q accepted", u)
		}
	}
}
