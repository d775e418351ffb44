package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot"
	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/console"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/ops"
	"github.com/ucwabot/ucwabot/plugins"
	"github.com/ucwabot/ucwabot/rules"
)

const goodRules = `rules:
  - name: hello
    on: message.received
    when: 'message.text == "hi"'
    do:
      - reply: { text: "hello" }
`

func newConsole(t *testing.T, token string, listen ...string) (http.Handler, *console.Hub) {
	t.Helper()
	hub := console.NewHub(3)
	src, err := console.NewMemoryRules(rules.Options{Build: plugins.Default.Build}, "bot.yaml", []byte(goodRules))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close() })
	addr := "127.0.0.1:8080"
	if len(listen) > 0 {
		addr = listen[0]
	}
	h := ops.Handler(ops.Options{Token: token, Listen: addr,
		Console: console.Handler(console.Options{Hub: hub, Rules: src})})
	return h, hub
}

func call(h http.Handler, method, path, remote, token, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://127.0.0.1:8080"+path, strings.NewReader(body))
	r.RemoteAddr = remote
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestConsole_follows_the_admin_APIs_authentication(t *testing.T) {
	withToken, _ := newConsole(t, "s3cret")
	noToken, _ := newConsole(t, "")
	cases := []struct {
		name       string
		h          http.Handler
		method     string
		path       string
		remote     string
		token      string
		body       string
		wantStatus int
	}{
		{"page without the token when one is configured", withToken, "GET", "/console/", "192.0.2.7:4000", "", "", 200},
		{"API call without the token", withToken, "GET", "/console/api/rules", "127.0.0.1:4000", "", "", 401},
		{"API call with a wrong token", withToken, "GET", "/console/api/rules", "127.0.0.1:4000", "nope", "", 401},
		{"API call with the token", withToken, "GET", "/console/api/rules", "192.0.2.7:4000", "s3cret", "", 200},
		{"page from the network without a token configured", noToken, "GET", "/console/", "192.0.2.7:4000", "", "", 403},
		{"page from loopback without a token configured", noToken, "GET", "/console/", "127.0.0.1:4000", "", "", 200},
		{"read from loopback without a token configured", noToken, "GET", "/console/api/conversations", "127.0.0.1:4000", "", "", 200},
		{"change from loopback without a token configured", noToken, "POST", "/console/api/rules/check", "127.0.0.1:4000", "", `{"name":"bot.yaml","text":""}`, 401},
		{"change with the token but not JSON", withToken, "POST", "/console/api/rules/check", "127.0.0.1:4000", "s3cret", "", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := call(c.h, c.method, c.path, c.remote, c.token, c.body)
			if w.Code != c.wantStatus {
				t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.path, w.Code, c.wantStatus, w.Body)
			}
		})
	}
	r := httptest.NewRequest("GET", "http://127.0.0.1:8080/console/api/rules", nil)
	r.RemoteAddr = "127.0.0.1:4000"
	r.Header.Set("Authorization", "Bearer s3cret")
	r.Header.Set("Origin", "http://evil.example")
	w := httptest.NewRecorder()
	withToken.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Errorf("cross-site call: status %d, want 403", w.Code)
	}
}

func TestConsole_check_reports_problems_at_their_line_with_a_snippet(t *testing.T) {
	h, _ := newConsole(t, "tok")
	broken := strings.Replace(goodRules, `message.text == "hi"`, `message.text ==`, 1)
	body := `{"name":"bot.yaml","text":` + jsonString(broken) + `}`
	w := call(h, "POST", "/console/api/rules/check", "127.0.0.1:1", "tok", body)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	out := w.Body.String()
	for _, want := range []string{`"ok":false`, `"line":4`, `"rule":"hello"`, `"snippet":"    when: 'message.text =='`} {
		if !strings.Contains(out, want) {
			t.Errorf("check answer lacks %s: %s", want, out)
		}
	}
	w = call(h, "POST", "/console/api/rules/check", "127.0.0.1:1", "tok", `{"name":"other.yaml","text":""}`)
	if w.Code != http.StatusNotFound {
		t.Errorf("check of a file outside the rules: status %d, want 404", w.Code)
	}
	w = call(h, "POST", "/console/api/rules/apply", "127.0.0.1:1", "tok", `{"name":"bot.yaml","text":`+jsonString(broken)+`}`)
	if w.Code != http.StatusUnprocessableEntity {
		t.Errorf("apply of a broken file: status %d, want 422: %s", w.Code, w.Body)
	}
}

func jsonString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func trace(n int) *bot.Trace {
	return &bot.Trace{Account: "sip:bot@example.com", Conversation: "c1", EventID: "e" + string(rune('0'+n)),
		Kind: event.MessageReceived, From: "sip:alice@example.com", Text: "hi", Start: time.Now(), Matched: []string{"hello"}}
}

func TestHub_keeps_a_bounded_ring_and_traces_only_while_watched(t *testing.T) {
	hub := console.NewHub(3)
	if hub.Tracing() {
		t.Fatal("a hub nobody watched traces")
	}
	stop := hub.Watch()
	if !hub.Tracing() {
		t.Fatal("a watched hub does not trace")
	}
	stop()
	if hub.Tracing() {
		t.Fatal("the hub still traces after the watcher left")
	}
	for i := 1; i <= 5; i++ {
		hub.Trace(trace(i))
	}
	got := hub.Traces("", 0, 100)
	if len(got) != 3 || got[0].Seq != 3 || got[2].Seq != 5 {
		t.Fatalf("ring holds %+v, want seqs 3..5", got)
	}
	if n := len(hub.Traces("c1", 4, 100)); n != 1 {
		t.Errorf("traces after seq 4: %d, want 1", n)
	}
	convs := hub.Conversations()
	if len(convs) != 1 || convs[0].Events != 5 || len(convs[0].Participants) != 1 {
		t.Errorf("conversations %+v, want c1 with 5 events and alice", convs)
	}
	ended := trace(6)
	ended.Kind = event.ConversationEnded
	hub.Trace(ended)
	if n := len(hub.Conversations()); n != 0 {
		t.Errorf("an ended conversation is still listed (%d)", n)
	}
}

func TestConsole_streams_traces_as_server_sent_events_until_the_hub_closes(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	h, hub := newConsole(t, "tok", srv.Listener.Addr().String())
	srv.Config.Handler = h
	srv.Start()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/console/api/stream", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	rd := bufio.NewReader(resp.Body)
	if line, _ := rd.ReadString('\n'); !strings.HasPrefix(line, "retry:") {
		t.Fatalf("first line %q", line)
	}
	if !hub.Tracing() {
		t.Fatal("the hub does not trace while a stream is open")
	}
	hub.Trace(trace(1))
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before the trace: %v", err)
		}
		if strings.HasPrefix(line, "data: ") {
			if !strings.Contains(line, `"kind":"message.received"`) || !strings.Contains(line, `"matched":["hello"]`) {
				t.Fatalf("trace event %s", line)
			}
			break
		}
	}
	// Closing the hub ends the stream, so that a shutdown need not wait.
	hub.Close()
	for {
		if _, err := rd.ReadString('\n'); err != nil {
			return
		}
	}
}

func TestFileRules_apply_writes_the_file_and_reloads_and_is_refused_when_not_allowed(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(file, []byte(goodRules), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := rules.Options{Build: plugins.Default.Build}
	log := logrus.New()
	log.SetOutput(io.Discard)
	rl, err := rules.NewReloader(opts, log, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rl.Current().Close() })
	before := rl.Current().Version()
	fr := &console.FileRules{Opts: opts, Reloader: rl, NoApply: "not in shadow mode"}
	h := ops.Handler(ops.Options{Token: "tok", Listen: "127.0.0.1:8080",
		Console: console.Handler(console.Options{Hub: console.NewHub(0), Rules: fr})})
	changed := strings.Replace(goodRules, `"hello"`, `"hello again"`, 1)
	body := `{"name":` + jsonString(file) + `,"text":` + jsonString(changed) + `}`
	if w := call(h, "POST", "/console/api/rules/apply", "127.0.0.1:1", "tok", body); w.Code != http.StatusForbidden {
		t.Fatalf("apply while not allowed: %d %s, want 403", w.Code, w.Body)
	}
	fr.NoApply = ""
	w := call(h, "POST", "/console/api/rules/apply", "127.0.0.1:1", "tok", body)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"applied":true`) {
		t.Fatalf("apply: %d %s", w.Code, w.Body)
	}
	if got, _ := os.ReadFile(file); string(got) != changed {
		t.Errorf("the file holds %q after apply", got)
	}
	if rl.Current().Version() == before {
		t.Error("the rules in force did not change")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("apply left files behind: %v", entries)
	}
}

func TestConsole_accounts_show_lease_poll_age_subscription_expiry_and_recoveries(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ucwabot_recoveries_total"}, []string{"account", "cause"})
	exp := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ucwabot_subscription_expiry_timestamp_seconds"}, []string{"account"})
	reg.MustRegister(rec, exp)
	const acct = "sip:bot@example.com"
	rec.WithLabelValues(acct, "resync").Add(2)
	rec.WithLabelValues(acct, "resume").Inc()
	expiry := time.Now().Add(20 * time.Minute).Truncate(time.Second)
	exp.WithLabelValues(acct).Set(float64(expiry.Unix()))
	polled := time.Now().Add(-3 * time.Second)
	h := ops.Handler(ops.Options{Listen: "127.0.0.1:8080", Console: console.Handler(console.Options{
		Hub: console.NewHub(0), Gatherer: reg,
		Accounts: func() []bot.AccountStatus {
			return []bot.AccountStatus{{Address: acct, State: "running", Owner: true, Presence: "Online", LastPoll: polled, Subscriptions: 1}}
		},
	})})
	w := call(h, "GET", "/console/api/accounts", "127.0.0.1:1", "", "")
	var got []console.AccountView
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || len(got) != 1 {
		t.Fatalf("accounts: %d %s (%v)", w.Code, w.Body, err)
	}
	a := got[0]
	if !a.LeaseHolder || a.Presence != "Online" || a.Recoveries != 3 || !a.SubExpiry.Equal(expiry) || a.PollAgeS < 2.5 {
		t.Errorf("account view %+v, want lease held, Online, 3 recoveries, expiry %s, poll age ≥ 3 s", a, expiry)
	}
}
