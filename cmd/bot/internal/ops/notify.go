package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The notify API, under /api/v1/, with the admin API's authentication:
//
//	POST /api/v1/messages        {"to": "sip:…" | "conversation": "…", "text" | "html", …}
//	GET  /api/v1/messages/{id}   ?account=… when the bot drives several accounts
//
// A POST waits for the outcome up to ?wait= (default 10s, at most 60s):
// 200 with the result when the message was sent or failed, 202 with a
// Location to GET when it is still queued.

// Errors a Notifier wraps to choose the HTTP status.
var (
	ErrInvalid     = errors.New("invalid request")     // 400
	ErrNotFound    = errors.New("not found")           // 404
	ErrRateLimited = errors.New("rate limit reached")  // 429
	ErrUnavailable = errors.New("service unavailable") // 503
)

// Notifier takes the notify API's requests.
type Notifier interface {
	Notify(ctx context.Context, m Message, wait time.Duration) (MessageResult, error)
	Result(ctx context.Context, account, id string) (MessageResult, error)
}

// Message is the body of POST /api/v1/messages.
type Message struct {
	Account        string `json:"account,omitempty"`
	To             string `json:"to,omitempty"`
	Conversation   string `json:"conversation,omitempty"`
	Text           string `json:"text,omitempty"`
	HTML           string `json:"html,omitempty"`
	Subject        string `json:"subject,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// MessageResult is what became of a message.
type MessageResult struct {
	ID           string    `json:"id"`
	Account      string    `json:"account"`
	Status       string    `json:"status"` // queued, sent, failed
	Conversation string    `json:"conversation,omitempty"`
	Error        string    `json:"error,omitempty"`
	Time         time.Time `json:"time,omitzero"`
}

const (
	maxMessageBody  = 256 << 10
	defaultWait     = 10 * time.Second
	maxWait         = time.Minute
	notifyRetryWait = "1"
)

func notifyRoutes(o Options) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/messages", jsonOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { postMessage(o, w, r) })))
	mux.HandleFunc("GET /api/v1/messages/{id}", func(w http.ResponseWriter, r *http.Request) { getMessage(o, w, r) })
	return mux
}

func postMessage(o Options, w http.ResponseWriter, r *http.Request) {
	if o.Notify == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"the notify API is not available"})
		return
	}
	wait := defaultWait
	if s := r.URL.Query().Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > maxWait {
			writeJSON(w, http.StatusBadRequest, errorBody{fmt.Sprintf("wait %q is not a duration from 0s to %s", s, maxWait)})
			return
		}
		wait = d
	}
	var m Message
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxMessageBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{"body: " + jsonError(err)})
		return
	}
	if dec.More() {
		writeJSON(w, http.StatusBadRequest, errorBody{"body: more than one JSON value"})
		return
	}
	if h := r.Header.Get("Idempotency-Key"); h != "" {
		if m.IdempotencyKey != "" && m.IdempotencyKey != h {
			writeJSON(w, http.StatusBadRequest, errorBody{"the Idempotency-Key header and the body's idempotency_key differ"})
			return
		}
		m.IdempotencyKey = h
	}
	res, err := o.Notify.Notify(r.Context(), m, wait)
	if err != nil {
		writeNotifyError(w, err)
		return
	}
	o.Logger.WithFields(map[string]any{"account": res.Account, "id": res.ID, "status": res.Status}).Info("notify: message requested")
	status := http.StatusOK
	if res.Status == "queued" {
		w.Header().Set("Location", "/api/v1/messages/"+url.PathEscape(res.ID)+"?account="+url.QueryEscape(res.Account))
		status = http.StatusAccepted
	}
	writeJSON(w, status, res)
}

func getMessage(o Options, w http.ResponseWriter, r *http.Request) {
	if o.Notify == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"the notify API is not available"})
		return
	}
	res, err := o.Notify.Result(r.Context(), r.URL.Query().Get("account"), r.PathValue("id"))
	if err != nil {
		writeNotifyError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func writeNotifyError(w http.ResponseWriter, err error) {
	status := http.StatusBadGateway
	switch {
	case errors.Is(err, ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrRateLimited):
		w.Header().Set("Retry-After", notifyRetryWait)
		status = http.StatusTooManyRequests
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, errorBody{err.Error()})
}

// jsonError says what is wrong with a body, with the byte offset where
// encoding/json knows it.
func jsonError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var big *http.MaxBytesError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("%v at byte %d", syn, syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q: want a %s, at byte %d", typ.Field, typ.Type, typ.Offset)
	case errors.As(err, &big):
		return "larger than " + strconv.FormatInt(big.Limit, 10) + " bytes"
	case errors.Is(err, io.EOF):
		return "empty; want a JSON object"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return err.Error()
}
