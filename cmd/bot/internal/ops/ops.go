// Package ops is the service's HTTP face for operators: /healthz, /readyz,
// /metrics in Prometheus format, the admin API under /admin/, the notify
// API under /api/v1/ (notify.go), which shares its authentication, and the
// web console under /console/ (Options.Console), whose calls pass the
// admin API's checks.
//
// The admin API answers requests from loopback addresses only, unless a
// token is configured; with a token every admin call must carry
// "Authorization: Bearer <token>". Without a token, state-changing calls
// are refused unless Options.AllowLoopbackWithoutToken. Listen refuses a
// non-loopback address when no token is configured. Every route refuses a
// Host header that names neither the listen address nor an allowed name
// (DNS rebinding); admin calls also refuse cross-site requests (Origin,
// Sec-Fetch-Site) and state-changing calls that are not application/json.
// docs/security.md says what this protects against.
package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"
)

// Options are what the HTTP server shows and controls. Nil parts answer
// 503 (Ready nil means always ready).
type Options struct {
	// Ready reports readiness: nil when ready, else the reason.
	Ready func() error
	// Gatherer is the registry /metrics exposes.
	Gatherer prometheus.Gatherer
	// Rules lists and reloads the rules.
	Rules RuleAdmin
	// Conversations lists and drops conversation state.
	Conversations ConversationAdmin
	// Notify takes the notify API's messages (/api/v1/).
	Notify Notifier
	// Transcripts lists and returns the kept transcripts.
	Transcripts TranscriptAdmin
	// Token, when not empty, is the bearer token admin calls must carry.
	Token string
	// Listen is the address the server listens on (host:port, the
	// listener's address); the Host header of every request must name it
	// or one of AllowedHosts.
	Listen string
	// AllowedHosts are further host names (without port) by which clients
	// may reach the server.
	AllowedHosts []string
	// AllowLoopbackWithoutToken lets state-changing admin calls through
	// without a token when Token is empty (loopback clients only).
	AllowLoopbackWithoutToken bool
	// Logger receives one line per admin action.
	Logger logrus.FieldLogger
	// Console, when not nil, is the web console, served under /console/:
	// its calls under /console/api/ pass the admin API's checks; its
	// pages (which hold no data) pass them too when no token is
	// configured, and are served to anyone who reaches the server when one
	// is, since a browser cannot send the token when it opens a page.
	Console http.Handler
}

// RuleAdmin is the rules as the admin API sees them.
type RuleAdmin interface {
	// Rules returns the loaded rule set's version and each rule with its
	// counters.
	Rules() RuleSet
	// Reload loads the rule files again; on error the last good rules stay.
	Reload(ctx context.Context) (RuleSet, error)
}

// RuleSet is the loaded rules and the outcome of their reloads.
type RuleSet struct {
	Version string     `json:"version"`
	Rules   []RuleInfo `json:"rules"`
	// Reloads counts the reloads that replaced the rules; ReloadFailures
	// the reloads that failed and kept them.
	Reloads        uint64 `json:"reloads"`
	ReloadFailures uint64 `json:"reload_failures"`
	// LastReloadError is the error of the last reload, empty when it
	// succeeded or none has run.
	LastReloadError string `json:"last_reload_error,omitempty"`
}

// RuleInfo is one rule and its counters.
type RuleInfo struct {
	Name     string   `json:"name"`
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
	On       []string `json:"on,omitempty"`
	Handlers []string `json:"handlers,omitempty"`
	Matches  uint64   `json:"matches"`
	Errors   uint64   `json:"errors"`
	// Runs and RunSeconds are the count and total duration of its handler
	// calls.
	Runs       uint64  `json:"runs"`
	RunSeconds float64 `json:"run_seconds"`
}

// ConversationAdmin is conversation state as the admin API sees it.
type ConversationAdmin interface {
	// Conversations lists every account's conversations that have state.
	Conversations(ctx context.Context) ([]Conversation, error)
	// DropConversation removes one conversation's state.
	DropConversation(ctx context.Context, account, id string) error
}

// Conversation is one conversation's state.
type Conversation struct {
	Account string                     `json:"account"`
	ID      string                     `json:"id"`
	State   map[string]json.RawMessage `json:"state"`
	// StateTruncated says State was left out because it alone exceeds the
	// page size bound.
	StateTruncated bool `json:"state_truncated,omitempty"`
}

// Handler returns the server's routes.
func Handler(o Options) http.Handler {
	if o.Logger == nil {
		l := logrus.New()
		l.SetOutput(discard{})
		o.Logger = l
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if o.Ready != nil {
			if err := o.Ready(); err != nil {
				writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
				return
			}
		}
		writeText(w, http.StatusOK, "ready")
	})
	if o.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{ErrorLog: logAdapter{o.Logger}}))
	}
	a := &admin{o: o}
	mux.Handle("/admin/", sameSite(a.guard(a.routes())))
	mux.Handle("/api/v1/", sameSite(a.guard(notifyRoutes(o))))
	if o.Console != nil {
		mux.Handle("/console/api/", sameSite(a.guard(o.Console)))
		pages := o.Console
		if o.Token == "" {
			pages = a.guard(pages)
		}
		mux.Handle("/console/", sameSite(pages))
		mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusFound))
	}
	return o.hostCheck(mux)
}

// Listen opens addr for the server. It refuses an address that is not
// loopback when token is empty, since the admin API would then be open to
// the network.
func Listen(addr, token string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("http listen %q: %w", addr, err)
	}
	if token == "" && !loopbackHost(host) {
		return nil, fmt.Errorf("http listen %q: not a loopback address and no admin token configured", addr)
	}
	return net.Listen("tcp", addr)
}

// Serve serves h on l until ctx is done, then shuts down within five
// seconds. It returns nil after a shutdown caused by ctx.
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func writeText(w http.ResponseWriter, status int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, s)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// logAdapter feeds promhttp's error log into the logger.
type logAdapter struct{ l logrus.FieldLogger }

func (a logAdapter) Println(v ...any) { a.l.Error(v...) }
