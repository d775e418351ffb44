package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// notifyStub takes every message it is given and records it.
type notifyStub struct {
	mu   sync.Mutex
	got  []Message
	wait []time.Duration
}

func (n *notifyStub) Notify(_ context.Context, m Message, wait time.Duration) (MessageResult, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, m)
	n.wait = append(n.wait, wait)
	return MessageResult{ID: "id-1", Account: "sip:bot@example.com", Status: "sent"}, nil
}

func (n *notifyStub) Result(context.Context, string, string) (MessageResult, error) {
	return MessageResult{}, ErrNotFound
}

// FuzzNotifyBody posts fuzzed bodies, wait parameters and Idempotency-Key
// headers to POST /api/v1/messages. The API never panics and never
// answers 5xx (the notifier never fails); every refusal is a JSON
// {"error": ...} and reaches no notifier; an accepted body is one JSON
// object without unknown fields, handed over as it was written.
func FuzzNotifyBody(f *testing.F) {
	for _, b := range []string{
		`{"to": "sip:alice@example.com", "text": "db1 is down"}`,
		`{"conversation": "/ucwa/conv/1", "html": "<b>x</b>", "idempotency_key": "k1"}`,
		`{"to": "sip:alice@example.com", "text": "x", "account": "sip:bot@example.com", "subject": "s"}`,
		`{"to": "sip:alice@example.com", "txt": "x"}`, `{"text": 5}`, `{} {}`, `[]`, `null`, ``, `{"a":`,
	} {
		f.Add([]byte(b), "10s", "")
		f.Add([]byte(b), "", "k2")
	}
	f.Add([]byte(`{"text":"x","idempotency_key":"a"}`), "1m1s", "b")
	f.Fuzz(func(t *testing.T, body []byte, wait, key string) {
		n := &notifyStub{}
		h := Handler(Options{Listen: "127.0.0.1:8080", Notify: n, Token: fuzzToken})
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/api/v1/messages", bytes.NewReader(body))
		if wait != "" {
			req.URL.RawQuery = "wait=" + wait
		}
		req.RemoteAddr = "127.0.0.1:50000"
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+fuzzToken)
		if key != "" && !strings.ContainsAny(key, "\r\n\x00") {
			req.Header.Set("Idempotency-Key", key)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%q: %d %s", body, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var e errorBody
			if json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error == "" {
				t.Fatalf("%q: %d without a JSON error: %q", body, w.Code, w.Body)
			}
			if len(n.got) != 0 {
				t.Fatalf("%q: refused with %d, yet handed to the notifier", body, w.Code)
			}
			return
		}
		if len(n.got) != 1 {
			t.Fatalf("%q: %d and the notifier got %d messages", body, w.Code, len(n.got))
		}
		var want Message
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("%q: accepted, but it is not a message: %v", body, err)
		}
		if h := req.Header.Get("Idempotency-Key"); h != "" {
			want.IdempotencyKey = h
		}
		if n.got[0] != want {
			t.Fatalf("%q: the notifier got %+v, want %+v", body, n.got[0], want)
		}
		if n.wait[0] < 0 || n.wait[0] > maxWait {
			t.Fatalf("wait %q gave %v", wait, n.wait[0])
		}
	})
}
