package ops

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// rulesStub is a rule set whose reload outcome the test sets.
type rulesStub struct {
	mu        sync.Mutex
	set       RuleSet
	reloadErr error
	reloads   int
}

func (r *rulesStub) Rules() RuleSet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.set
}

func (r *rulesStub) Reload(context.Context) (RuleSet, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reloads++
	if r.reloadErr != nil {
		r.set.ReloadFailures++
		r.set.LastReloadError = r.reloadErr.Error()
		return RuleSet{}, r.reloadErr
	}
	r.set.Version = "v2"
	r.set.Reloads++
	r.set.LastReloadError = ""
	return r.set, nil
}

// convStub keeps conversation state in a map.
type convStub struct {
	mu    sync.Mutex
	state map[[2]string]map[string]json.RawMessage
}

func (c *convStub) Conversations(context.Context) ([]Conversation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Conversation
	for k, v := range c.state {
		out = append(out, Conversation{Account: k[0], ID: k[1], State: v})
	}
	return out, nil
}

func (c *convStub) DropConversation(_ context.Context, account, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.state, [2]string{account, id})
	return nil
}

type fixture struct {
	base  string
	rules *rulesStub
	convs *convStub
	ready error
	mu    sync.Mutex
}

// allowLoopback opts the fixture out of the token for state-changing calls.
func allowLoopback(o *Options) { o.AllowLoopbackWithoutToken = true }

func start(t *testing.T, token string, opts ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{
		rules: &rulesStub{set: RuleSet{Version: "v1", Rules: []RuleInfo{{Name: "greet", File: "r.yaml", Line: 3, Matches: 5, Errors: 1, Runs: 5, RunSeconds: 0.25}}}},
		convs: &convStub{state: map[[2]string]map[string]json.RawMessage{
			{"sip:bot@example.com", "/ucwa/conv/1"}: {"greeted": json.RawMessage(`true`)},
		}},
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), NewRuleCollector(f.rules.Rules))
	l, err := Listen("127.0.0.1:0", token)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Listen: l.Addr().String(),
		Ready: func() error {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.ready
		},
		Gatherer:      reg,
		Rules:         f.rules,
		Conversations: f.convs,
		Token:         token,
	}
	for _, opt := range opts {
		opt(&o)
	}
	h := Handler(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, h) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	f.base = "http://" + l.Addr().String()
	return f
}

func (f *fixture) do(t *testing.T, method, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method == "POST" || method == "DELETE" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHealthz_answers_ok(t *testing.T) {
	f := start(t, "")
	if code, body := f.do(t, "GET", "/healthz", ""); code != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", code, body)
	}
}

func TestReadyz_reports_the_reason_with_503(t *testing.T) {
	f := start(t, "")
	if code, _ := f.do(t, "GET", "/readyz", ""); code != 200 {
		t.Errorf("ready: %d", code)
	}
	f.mu.Lock()
	f.ready = errors.New("account sip:bot@example.com: no poll for 45s")
	f.mu.Unlock()
	code, body := f.do(t, "GET", "/readyz", "")
	if code != 503 || !strings.Contains(body, "no poll for 45s") {
		t.Errorf("not ready: %d %q", code, body)
	}
}

func TestMetrics_exports_rule_run_time_and_version(t *testing.T) {
	f := start(t, "")
	code, body := f.do(t, "GET", "/metrics", "")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	for _, want := range []string{
		`ucwabot_rule_handler_seconds_sum{rule="greet"} 0.25`,
		`ucwabot_rule_handler_seconds_count{rule="greet"} 5`,
		`ucwabot_rules_info{version="v1"} 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestAdmin_without_token_serves_loopback(t *testing.T) {
	f := start(t, "")
	code, body := f.do(t, "GET", "/admin/rules", "")
	if code != 200 || !strings.Contains(body, `"name": "greet"`) || !strings.Contains(body, `"matches": 5`) {
		t.Errorf("rules: %d %s", code, body)
	}
}

func TestAdmin_with_token_refuses_missing_or_wrong_token(t *testing.T) {
	const token = "s3cret-admin-token"
	f := start(t, token)
	for _, tc := range []struct{ name, token string }{{"missing", ""}, {"wrong", "guess"}, {"prefix", token[:5]}} {
		code, body := f.do(t, "GET", "/admin/rules", tc.token)
		if code != 401 || strings.Contains(body, "greet") {
			t.Errorf("%s token: %d %s", tc.name, code, body)
		}
	}
	if code, _ := f.do(t, "GET", "/admin/rules", token); code != 200 {
		t.Errorf("right token: %d", code)
	}
	// Health and metrics stay open: probes carry no token.
	if code, _ := f.do(t, "GET", "/healthz", ""); code != 200 {
		t.Errorf("healthz with token configured: %d", code)
	}
}

func TestAdmin_reload_returns_the_new_version_or_the_error(t *testing.T) {
	f := start(t, "", allowLoopback)
	code, body := f.do(t, "POST", "/admin/rules/reload", "")
	if code != 200 || !strings.Contains(body, `"version": "v2"`) {
		t.Errorf("reload: %d %s", code, body)
	}
	f.rules.mu.Lock()
	f.rules.reloadErr = errors.New("r.yaml:4:9: rule greet: when: unknown name foo")
	f.rules.mu.Unlock()
	code, body = f.do(t, "POST", "/admin/rules/reload", "")
	if code != 422 || !strings.Contains(body, "r.yaml:4:9") {
		t.Errorf("failed reload: %d %s", code, body)
	}
	if code, _ := f.do(t, "GET", "/admin/rules/reload", ""); code != 405 {
		t.Errorf("GET reload: %d", code)
	}
	code, body = f.do(t, "GET", "/admin/rules", "")
	if code != 200 || !strings.Contains(body, `"last_reload_error": "r.yaml:4:9: rule greet: when: unknown name foo"`) ||
		!strings.Contains(body, `"reload_failures": 1`) || !strings.Contains(body, `"reloads": 1`) {
		t.Errorf("rules after a failed reload: %d %s", code, body)
	}
}

func TestMetrics_count_rule_reloads_and_failures(t *testing.T) {
	f := start(t, "", allowLoopback)
	metric := func(name string) string {
		t.Helper()
		code, body := f.do(t, "GET", "/metrics", "")
		if code != 200 {
			t.Fatalf("metrics: %d", code)
		}
		for line := range strings.Lines(body) {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				return strings.TrimSpace(v)
			}
		}
		t.Fatalf("metrics lack %s:\n%s", name, body)
		return ""
	}
	if r, fl := metric("ucwabot_rules_reloads_total"), metric("ucwabot_rules_reload_failures_total"); r != "0" || fl != "0" {
		t.Errorf("before any reload: reloads %s, failures %s", r, fl)
	}
	f.rules.mu.Lock()
	f.rules.reloadErr = errors.New("r.yaml:1:1: bad")
	f.rules.mu.Unlock()
	f.do(t, "POST", "/admin/rules/reload", "")
	f.do(t, "POST", "/admin/rules/reload", "")
	f.rules.mu.Lock()
	f.rules.reloadErr = nil
	f.rules.mu.Unlock()
	f.do(t, "POST", "/admin/rules/reload", "")
	if r, fl := metric("ucwabot_rules_reloads_total"), metric("ucwabot_rules_reload_failures_total"); r != "1" || fl != "2" {
		t.Errorf("after two failed reloads and a good one: reloads %s, failures %s", r, fl)
	}
	code, body := f.do(t, "GET", "/admin/rules", "")
	if code != 200 || strings.Contains(body, "last_reload_error") {
		t.Errorf("after a good reload the listing still shows an error: %d %s", code, body)
	}
}

func TestAdmin_lists_and_drops_conversations(t *testing.T) {
	f := start(t, "", allowLoopback)
	code, body := f.do(t, "GET", "/admin/conversations", "")
	if code != 200 || !strings.Contains(body, `"/ucwa/conv/1"`) || !strings.Contains(body, `"greeted": true`) {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, _ := f.do(t, "DELETE", "/admin/conversations?account=sip:bot@example.com", ""); code != 400 {
		t.Errorf("drop without id: %d", code)
	}
	if code, body := f.do(t, "DELETE", "/admin/conversations?account=sip:bot@example.com&id=/ucwa/conv/1", ""); code != 204 {
		t.Errorf("drop: %d %s", code, body)
	}
	code, body = f.do(t, "GET", "/admin/conversations", "")
	if code != 200 || !strings.Contains(body, `"conversations": []`) || strings.Contains(body, "next_cursor") {
		t.Errorf("after drop: %d %s", code, body)
	}
}

func TestListen_refuses_non_loopback_without_token(t *testing.T) {
	if _, err := Listen("0.0.0.0:0", ""); err == nil || !strings.Contains(err.Error(), "no admin token") {
		t.Errorf("err = %v", err)
	}
	l, err := Listen("0.0.0.0:0", "tok")
	if err != nil {
		t.Fatalf("with token: %v", err)
	}
	l.Close()
}
