package handlers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/ucwabot/ucwabot/bot/event"
)

// SignatureHeader carries the HMAC-SHA256 of the timestamp, ".", and the
// webhook's body, keyed with the webhook's secret: "sha256=<hex>"
// (see SignTimestamped; docs/security.md shows how to verify it).
const SignatureHeader = "X-Ucwabot-Signature"

// IdempotencyKeyHeader carries the step's idempotency key
// (Request.IdempotencyKey): the same on every retry of the POST and when
// the event is replayed after a crash or a takeover. A webhook is called
// at least once per event and step; the receiver drops a key it has seen.
const IdempotencyKeyHeader = "Idempotency-Key"

// TimestampHeader carries the Unix time in seconds at which the request
// was signed; a receiver rejects a request whose timestamp is too old
// (a replay).
const TimestampHeader = "X-Ucwabot-Timestamp"

// WebhookConfig is the `webhook` plugin's parameters.
//
//	do:
//	  - webhook:
//	      url: https://hooks.example.com/ucwabot
//	      secret_env: HOOK_SECRET
//	      timeout: 5s
//	      retries: 3
type WebhookConfig struct {
	// URL receives a POST of the WebhookPayload as JSON.
	URL string `yaml:"url"`
	// Secret keys the signature header. Prefer SecretEnv: a rules file is
	// not the place for secrets.
	Secret string `yaml:"secret"`
	// SecretEnv names the environment variable holding the secret.
	SecretEnv string `yaml:"secret_env"`
	// Timeout of each attempt (default 5s).
	Timeout time.Duration `yaml:"timeout"`
	// Retries after a failed attempt (default 3; 0 keeps the default, -1
	// means none). Network errors, 429 and 5xx are retried; other statuses
	// are not.
	Retries int `yaml:"retries"`
	// Backoff is the wait before the first retry (default 500ms); it grows
	// exponentially, with jitter.
	Backoff time.Duration `yaml:"backoff"`
	// SaveAs, when set, stores the answer's JSON body in the
	// conversation's state under this field: the rule's next steps read it
	// in templates ({{.State.ticket.id}}) and later events in `when:`
	// (state.ticket.id). An answer that is not JSON is then an error.
	SaveAs string `yaml:"save_as"`
	// Transcript, when true, adds the conversation's transcript so far
	// to the payload (when the bot keeps transcripts).
	Transcript bool `yaml:"transcript"`
}

// maxWebhookAnswer bounds the answer body a webhook reads.
const maxWebhookAnswer = 1 << 20

// String shows the config without its secret.
func (c WebhookConfig) String() string {
	secret := ""
	if c.Secret != "" {
		secret = " secret=REDACTED"
	}
	return fmt.Sprintf("webhook{url=%s%s secret_env=%s timeout=%s retries=%d}", redactURL(c.URL), secret, c.SecretEnv, c.Timeout, c.Retries)
}

// GoString is String, so %#v does not print the secret either.
func (c WebhookConfig) GoString() string { return c.String() }

// Validate checks the URL, the secret's source and the durations.
func (c *WebhookConfig) Validate() error {
	u, err := url.Parse(c.URL)
	if c.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook: url %q is not an http(s) URL", redactURL(c.URL))
	}
	if c.Secret != "" && c.SecretEnv != "" {
		return errors.New(`webhook: give "secret" or "secret_env", not both`)
	}
	if c.SecretEnv != "" && os.Getenv(c.SecretEnv) == "" {
		return fmt.Errorf("webhook: secret_env: environment variable %s is not set", c.SecretEnv)
	}
	if c.Timeout < 0 || c.Backoff < 0 {
		return errors.New("webhook: timeout and backoff must not be negative")
	}
	if c.SaveAs != "" && !validStateField(c.SaveAs) {
		return fmt.Errorf("webhook: save_as %q is not a state field name (letters, digits, _ and -)", c.SaveAs)
	}
	if c.Retries < -1 || c.Retries > 10 {
		return fmt.Errorf("webhook: retries %d is not between -1 and 10", c.Retries)
	}
	return nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<invalid url>"
	}
	return u.Redacted()
}

// WebhookPayload is the JSON body a webhook receives.
type WebhookPayload struct {
	// Rule is the name of the rule that called the webhook.
	Rule string `json:"rule"`
	// Event is the event being handled.
	Event *event.Event `json:"event"`
	// Transcript is the conversation's transcript so far, rendered, when
	// the step asks for it and the bot keeps transcripts.
	Transcript string `json:"transcript,omitempty"`
}

// Webhook POSTs the event as JSON to a URL, signed with HMAC-SHA256 when
// it has a secret, retrying failures with exponential backoff.
type Webhook struct {
	saveAs     string
	transcript bool
	url        string
	secret     []byte
	timeout    time.Duration
	retries    int
	backoff    time.Duration
	client     *http.Client
}

var (
	_ Handler = (*Webhook)(nil)
	_ Cleaner = (*Webhook)(nil)
)

// NewWebhook builds a Webhook from a config; the secret is read from the
// environment now when SecretEnv names it.
func NewWebhook(c WebhookConfig) (*Webhook, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	h := &Webhook{url: c.URL, secret: []byte(c.Secret), timeout: c.Timeout, retries: c.Retries, backoff: c.Backoff, saveAs: c.SaveAs, transcript: c.Transcript}
	if c.SecretEnv != "" {
		h.secret = []byte(os.Getenv(c.SecretEnv))
	}
	if h.timeout == 0 {
		h.timeout = 5 * time.Second
	}
	switch h.retries {
	case 0:
		h.retries = 3
	case -1:
		h.retries = 0
	}
	if h.backoff == 0 {
		h.backoff = 500 * time.Millisecond
	}
	h.client = &http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		// A redirect would resend the signed body to a host the rules did
		// not name: the answer is an error instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return h, nil
}

// URL returns the webhook's target as the rules wrote it, for a service's
// host allow-list.
func (h *Webhook) URL() string { return h.url }

// Secrets returns the secret that signs the requests (none when empty),
// for a log redactor.
func (h *Webhook) Secrets() []string {
	if len(h.secret) == 0 {
		return nil
	}
	return []string{string(h.secret)}
}

// Sign returns the signature header value of body under secret:
// "sha256=" and the hex HMAC-SHA256. Webhooks sign with SignTimestamped.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// SignTimestamped returns the SignatureHeader value a webhook sends: the
// HMAC-SHA256 under secret of timestamp (TimestampHeader's value), ".",
// and body.
func SignTimestamped(secret []byte, timestamp string, body []byte) string {
	return Sign(secret, append([]byte(timestamp+"."), body...))
}

// StatusError is a webhook answer outside 2xx.
type StatusError struct {
	// URL is the webhook URL, without user info.
	URL string
	// Status is the HTTP status code.
	Status int
}

// Error names the URL and the status.
func (e *StatusError) Error() string {
	return fmt.Sprintf("webhook %s: HTTP %d %s", e.URL, e.Status, http.StatusText(e.Status))
}

// Handle posts the payload, retrying network errors, 429 and 5xx, and
// stores the answer under SaveAs when set.
func (h *Webhook) Handle(ctx context.Context, req *Request) error {
	payload := WebhookPayload{Rule: req.Rule.Name, Event: req.Event}
	if h.transcript && req.Transcript != nil {
		text, err := req.Transcript(ctx)
		if err != nil {
			return fmt.Errorf("webhook: transcript: %w", err)
		}
		payload.Transcript = text
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("webhook: encode event: %w", err)
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = h.backoff
	b.MaxElapsedTime = 0
	policy := backoff.WithContext(backoff.WithMaxRetries(b, uint64(h.retries)), ctx)
	attempt := 0
	var answer []byte
	err = backoff.Retry(func() error {
		attempt++
		var err error
		answer, err = h.post(ctx, req, body)
		return err
	}, policy)
	if err != nil {
		return fmt.Errorf("webhook: %d attempt(s): %w", attempt, err)
	}
	if h.saveAs == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal(answer, &v); err != nil {
		return fmt.Errorf("webhook: POST %s: the answer is not JSON (save_as %s): %w", redactURL(h.url), h.saveAs, err)
	}
	if err := req.State.Set(h.saveAs, v); err != nil {
		return fmt.Errorf("webhook: save_as: %w", err)
	}
	return nil
}

func (h *Webhook) post(ctx context.Context, req *Request, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return nil, backoff.Permanent(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "ucwabot-webhook")
	r.Header.Set("X-Ucwabot-Event", req.Event.ID)
	if req.IdempotencyKey != "" {
		r.Header.Set(IdempotencyKeyHeader, req.IdempotencyKey)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	r.Header.Set(TimestampHeader, ts)
	if len(h.secret) > 0 {
		r.Header.Set(SignatureHeader, SignTimestamped(h.secret, ts, body))
	}
	resp, err := h.client.Do(r)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error repeats the URL, which may carry user info
		}
		return nil, fmt.Errorf("POST %s: %w", redactURL(h.url), err)
	}
	if h.saveAs == "" || resp.StatusCode/100 != 2 {
		// Nobody reads the answer: a large or broken body is no failure.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return nil, nil
		}
	}
	var answer []byte
	var rerr error
	if h.saveAs != "" && resp.StatusCode/100 == 2 {
		answer, rerr = io.ReadAll(io.LimitReader(resp.Body, maxWebhookAnswer+1))
		resp.Body.Close()
	}
	if resp.StatusCode/100 == 2 {
		switch {
		case rerr != nil:
			return nil, fmt.Errorf("POST %s: reading the answer: %w", redactURL(h.url), rerr)
		case len(answer) > maxWebhookAnswer:
			return nil, backoff.Permanent(fmt.Errorf("POST %s: the answer is larger than %d bytes", redactURL(h.url), maxWebhookAnswer))
		}
		return answer, nil
	}
	if resp.StatusCode/100 == 3 {
		return nil, backoff.Permanent(fmt.Errorf("POST %s: HTTP %d redirect to %s not followed: webhooks post only to the URL in the rules",
			redactURL(h.url), resp.StatusCode, redactURL(resp.Header.Get("Location"))))
	}
	serr := &StatusError{URL: redactURL(h.url), Status: resp.StatusCode}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return nil, serr
	}
	return nil, backoff.Permanent(serr)
}

// Cleanup closes the webhook's idle connections.
func (h *Webhook) Cleanup() error {
	h.client.CloseIdleConnections()
	return nil
}

// validStateField reports whether name can be a state field that
// expressions read as state.NAME.
func validStateField(name string) bool {
	if name == "" || len(name) > 100 {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
