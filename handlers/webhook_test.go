package handlers_test

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
)

// hookServer is a webhook receiver on 127.0.0.1 that verifies signatures.
type hookServer struct {
	*httptest.Server
	secret   string
	calls    atomic.Int32
	mu       sync.Mutex
	payloads []handlers.WebhookPayload
	badSig   int
}

func newHookServer(t *testing.T, secret string, answer func(n int32, w http.ResponseWriter, r *http.Request)) *hookServer {
	t.Helper()
	hs := &hookServer{secret: secret}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs.Server = &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hs.calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		want := handlers.SignTimestamped([]byte(hs.secret), r.Header.Get(handlers.TimestampHeader), body)
		hs.mu.Lock()
		if !hmac.Equal([]byte(r.Header.Get(handlers.SignatureHeader)), []byte(want)) {
			hs.badSig++
		}
		var p handlers.WebhookPayload
		if err := json.Unmarshal(body, &p); err == nil {
			hs.payloads = append(hs.payloads, p)
		}
		hs.mu.Unlock()
		answer(n, w, r)
	})}}
	hs.Start()
	t.Cleanup(hs.Close)
	return hs
}

func newWebhook(t *testing.T, cfg handlers.WebhookConfig) *handlers.Webhook {
	t.Helper()
	h, err := handlers.NewWebhook(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	return h
}

func TestWebhook_posts_the_signed_event(t *testing.T) {
	hs := newHookServer(t, "s3cret", func(_ int32, w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Ucwabot-Event") != "ev-1" {
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	h := newWebhook(t, handlers.WebhookConfig{URL: hs.URL + "/hook", Secret: "s3cret"})
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "printer on fire"))
	req.Rule.Name = "escalate"
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if hs.calls.Load() != 1 || hs.badSig != 0 {
		t.Fatalf("calls = %d, bad signatures = %d", hs.calls.Load(), hs.badSig)
	}
	p := hs.payloads[0]
	if p.Rule != "escalate" || p.Event.Message.Text != "printer on fire" || p.Event.Participant.URI != "sip:alice@contoso.com" {
		t.Fatalf("payload = %+v", p)
	}
}

func TestWebhook_signature_is_hmac_sha256_hex(t *testing.T) {
	// RFC 4231 test case 2.
	got := handlers.Sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	if got != "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" {
		t.Fatalf("Sign = %s", got)
	}
}

func TestWebhook_retries_server_errors_then_succeeds(t *testing.T) {
	hs := newHookServer(t, "k", func(n int32, w http.ResponseWriter, _ *http.Request) {
		if n < 3 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	h := newWebhook(t, handlers.WebhookConfig{URL: hs.URL, Secret: "k", Retries: 3, Backoff: time.Millisecond})
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "x"))
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if n := hs.calls.Load(); n != 3 {
		t.Fatalf("calls = %d, want 3", n)
	}
	if hs.badSig != 0 {
		t.Fatal("a retry was signed differently")
	}
}

func TestWebhook_gives_up_after_its_retries_with_the_status(t *testing.T) {
	hs := newHookServer(t, "k", func(_ int32, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	h := newWebhook(t, handlers.WebhookConfig{URL: hs.URL, Secret: "k", Retries: 2, Backoff: time.Millisecond})
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "x"))
	err := h.Handle(context.Background(), req)
	var se *handlers.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusBadGateway {
		t.Fatalf("err = %v, want a StatusError 502", err)
	}
	if n := hs.calls.Load(); n != 3 {
		t.Fatalf("calls = %d, want 1 + 2 retries", n)
	}
}

func TestWebhook_does_not_retry_client_errors(t *testing.T) {
	hs := newHookServer(t, "k", func(_ int32, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	})
	h := newWebhook(t, handlers.WebhookConfig{URL: hs.URL, Secret: "k", Backoff: time.Millisecond})
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "x"))
	var se *handlers.StatusError
	if err := h.Handle(context.Background(), req); !errors.As(err, &se) || se.Status != 403 {
		t.Fatalf("err = %v", err)
	}
	if n := hs.calls.Load(); n != 1 {
		t.Fatalf("calls = %d, want 1", n)
	}
}

func TestWebhook_times_out_a_slow_receiver_and_retries(t *testing.T) {
	release := make(chan struct{})
	hs := newHookServer(t, "k", func(n int32, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	})
	defer close(release)
	h := newWebhook(t, handlers.WebhookConfig{URL: hs.URL, Secret: "k", Timeout: 50 * time.Millisecond, Backoff: time.Millisecond})
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "x"))
	if err := h.Handle(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if n := hs.calls.Load(); n != 2 {
		t.Fatalf("calls = %d, want a timed-out attempt and a retry", n)
	}
}

func TestWebhook_stops_when_ctx_is_cancelled(t *testing.T) {
	hs := newHookServer(t, "k", func(_ int32, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	h := newWebhook(t, handlers.WebhookConfig{URL: hs.URL, Retries: 10, Backoff: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "x"))
	if err := h.Handle(ctx, req); err == nil {
		t.Fatal("Handle succeeded against a failing receiver")
	}
	if n := hs.calls.Load(); n != 1 {
		t.Fatalf("calls = %d, want 1", n)
	}
}

func TestWebhook_never_shows_its_secret(t *testing.T) {
	t.Setenv("UCWABOT_TEST_HOOK_SECRET", "env-s3cret")
	cfg := handlers.WebhookConfig{URL: "http://user:pa55@127.0.0.1:1/hook", Secret: "s3cret"}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg), fmt.Sprintf("%v", &cfg)} {
		if strings.Contains(s, "s3cret") || strings.Contains(s, "pa55") {
			t.Fatalf("config printed a secret: %s", s)
		}
	}
	h := newWebhook(t, handlers.WebhookConfig{URL: "http://user:pa55@127.0.0.1:1/hook", SecretEnv: "UCWABOT_TEST_HOOK_SECRET", Retries: -1})
	req, _ := handlerstest.NewRequest(t, handlerstest.Message("sip:alice@contoso.com", "x"))
	err := h.Handle(context.Background(), req)
	if err == nil {
		t.Fatal("posting to a closed port succeeded")
	}
	if strings.Contains(err.Error(), "pa55") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error shows a secret: %v", err)
	}
}

func TestWebhookConfig_Validate(t *testing.T) {
	cases := []struct {
		cfg  handlers.WebhookConfig
		want string
	}{
		{handlers.WebhookConfig{}, "not an http(s) URL"},
		{handlers.WebhookConfig{URL: "ftp://x/y"}, "not an http(s) URL"},
		{handlers.WebhookConfig{URL: "http://x", Secret: "a", SecretEnv: "B"}, "not both"},
		{handlers.WebhookConfig{URL: "http://x", SecretEnv: "UCWABOT_TEST_UNSET_VARIABLE"}, "UCWABOT_TEST_UNSET_VARIABLE is not set"},
		{handlers.WebhookConfig{URL: "http://x", Timeout: -1}, "negative"},
		{handlers.WebhookConfig{URL: "http://x", Retries: 99}, "retries 99"},
	}
	for _, tc := range cases {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: Validate() = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
