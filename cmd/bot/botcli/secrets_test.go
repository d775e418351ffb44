package botcli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/config"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// lockedBuffer is the service's log sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRun_no_secret_reaches_logs_errors_metrics_or_the_store signs in, has a
// token renewed, meets faults, reloads the rules and shuts down at debug
// level, then searches every log line, the returned error, /metrics and the
// store file for the password, every token, the admin token and the webhook
// secret.
func TestRun_no_secret_reaches_logs_errors_metrics_or_the_store(t *testing.T) {
	const (
		bot, alice = "sip:bot@example.com", "sip:alice@example.com"
		password   = "pw-4c1f9e77b2"
		adminTok   = "admin-tok-9d02aa51c3"
		hookSecret = "hook-secret-e5a7713d"
	)
	sim, err := ucwasim.New(ucwasim.Options{Domain: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if err := sim.AddUser(bot, password, "Bot"); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddUser(alice, "", "Alice"); err != nil {
		t.Fatal(err)
	}
	// A front that records the bearer tokens the bot presents.
	target, _ := url.Parse(sim.URL())
	var mu sync.Mutex
	tokens := map[string]bool{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			mu.Lock()
			tokens[tok] = true
			mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer hook.Close()

	dir := t.TempDir()
	rulesYAML := "rules:\n  - name: echo\n    on: [message.received]\n    do:\n      - reply: {text: \"echo {{.Message.Text}}\"}\n      - webhook: {url: \"" + hook.URL + "\", secret_env: SECTEST_HOOK_SECRET}\n"
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(rulesYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	root, _ := url.Parse(sim.DiscoveryURL())
	cfgYAML := "accounts:\n  - address: " + bot + "\n    discovery_url: " + front.URL + root.RequestURI() + "\n    insecure_http: true\n    password_env: SECTEST_PW\n" +
		"rules: [rules.yaml]\nstore:\n  path: " + filepath.Join(dir, "state.db") + "\nhttp:\n  listen: 127.0.0.1:0\nadmin:\n  token_env: SECTEST_ADMIN\nlog:\n  format: json\n  level: debug\n"
	cfgPath := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SECTEST_HOOK_SECRET", hookSecret)
	env := map[string]string{"SECTEST_PW": password, "SECTEST_ADMIN": adminTok}
	old := getenv
	getenv = func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	defer func() { getenv = old }()
	cfg, err := config.Load(cfgPath, getenv)
	if err != nil {
		t.Fatal(err)
	}

	var logs lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, Stdio{Err: &logs}, cfg) }()

	listenRe := regexp.MustCompile(`"listen":"([^"]+)"`)
	var base string
	deadline := time.Now().Add(20 * time.Second)
	for base == "" && time.Now().Before(deadline) {
		if m := listenRe.FindStringSubmatch(logs.String()); m != nil {
			base = "http://" + m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	if base == "" {
		t.Fatalf("the service never listened: %s", logs.String())
	}
	call := func(method, path string) string {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminTok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for !strings.Contains(call("GET", "/readyz"), "ready\n") || strings.Contains(call("GET", "/readyz"), "not ready") {
		if time.Now().After(deadline) {
			t.Fatalf("never ready: %s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	conv, err := sim.Invite(alice, bot, "one")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.WaitTranscript(wctx, conv, 2); err != nil {
		t.Fatalf("first reply: %v", err)
	}
	sim.RevokeTokens(bot) // the next call is answered 401: the token is renewed
	sim.Inject(ucwasim.Fault{Rel: "events", Status: http.StatusServiceUnavailable, Times: 2})
	if err := conv.Say(alice, "two"); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.WaitTranscript(wctx, conv, 4); err != nil {
		t.Fatalf("reply after the renewal and the faults: %v", err)
	}
	reload := call("POST", "/admin/rules/reload")
	metrics := call("GET", "/metrics")
	convs := call("GET", "/admin/conversations")
	cancel()
	runErr := <-done

	mu.Lock()
	defer mu.Unlock()
	if len(tokens) < 2 {
		t.Fatalf("saw %d tokens, want a renewal", len(tokens))
	}
	store, err := os.ReadFile(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	places := map[string]string{"log": logs.String(), "metrics": metrics, "reload": reload, "conversations": convs, "store": string(store)}
	if runErr != nil {
		places["error"] = runErr.Error()
	}
	secrets := map[string]string{"password": password, "admin token": adminTok, "webhook secret": hookSecret}
	i := 0
	for tok := range tokens {
		i++
		secrets["access token "+string(rune('0'+i))] = tok
		// The cwt value alone, as a log line might print it.
		secrets["access token value "+string(rune('0'+i))] = strings.TrimPrefix(tok, "cwt=")
	}
	for where, text := range places {
		for what, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the %s appears in the %s", what, where)
			}
		}
	}
	for _, want := range []string{"insecure_http is set", "admin: rules reloaded"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q: the search proves little", want)
		}
	}
}
