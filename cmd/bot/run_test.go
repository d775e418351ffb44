package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/simctl"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// freeAddr returns a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// httpDo sends a request with an optional bearer token and returns the
// status and body.
func httpDo(method, url, token string, body io.Reader) (int, string, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method == http.MethodPost || method == http.MethodDelete {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// httpGet returns the status and body of GET url.
func httpGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	code, body, err := httpDo(http.MethodGet, url, token, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return code, body
}

// eventually retries fn until it returns nil or within passes.
func eventually(t *testing.T, within time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const e2eRules = `version: 1
rules:
  - name: greet
    on: participant.joined
    when: not participant.local
    do:
      - reply: {text: "Welcome, {{.Participant.Name}}."}
  - name: echo
    on: message.received
    do:
      - set: {templates: {last: "{{.Message.Text}}"}}
      - reply: {text: "echo: {{.Message.Text}}"}
`

// TestRun_answers_a_conversation_end_to_end runs the simulator and the
// service as two processes: a person scripted through the simulator's
// control routes talks to the bot, and the bot's HTTP server shows it.
func TestRun_answers_a_conversation_end_to_end(t *testing.T) {
	const password = "Sim-Secret-4711"
	simAddr, httpAddr := freeAddr(t), freeAddr(t)
	sim := startBot(t, nil, "sim", "--listen", simAddr, "--domain", "example.com",
		"--users", "sip:bot@example.com="+password+",sip:alice@example.com")
	discovery := sim.waitFor(t, regexp.MustCompile(`discovery URL: (\S+)`), 60*time.Second)

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules", "bot.yaml"), e2eRules)
	cfg := filepath.Join(dir, "bot.yaml")
	writeFile(t, cfg, fmt.Sprintf(`accounts:
  - address: sip:bot@example.com
    discovery_url: %s
    insecure_http: true
    password_env: BOT_PASSWORD
rules: [rules]
store:
  path: %s
http:
  listen: %s
admin:
  token_env: ADMIN_TOKEN
transcripts:
  retention: 1h
log:
  format: json
  level: debug
`, discovery, filepath.Join(dir, "state.db"), httpAddr))
	const token = "Admin-Token-0815"
	bot := startBot(t, []string{"BOT_PASSWORD=" + password, "ADMIN_TOKEN=" + token}, "run", "--config", cfg)

	base := "http://" + httpAddr
	eventually(t, 30*time.Second, "/readyz answers 200", func() error {
		code, body, err := httpDo(http.MethodGet, base+"/readyz", "", nil)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	if code, body := httpGet(t, base+"/healthz", ""); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctl := &simctl.Client{Base: "http://" + simAddr}
	conv, err := ctl.Invite(ctx, "sip:alice@example.com", "sip:bot@example.com", "hello bot")
	if err != nil {
		t.Fatal(err)
	}
	var transcript []ucwasim.Message
	echoes := func(n int) func() error {
		return func() error {
			transcript, err = ctl.Transcript(ctx, conv)
			if err != nil {
				return err
			}
			if got := countFrom(transcript, "sip:bot@example.com", "echo: "); got < n {
				return fmt.Errorf("%d echoes in %v", got, transcript)
			}
			return nil
		}
	}
	eventually(t, 30*time.Second, "the bot answers the invitation's message", echoes(1))
	if err := ctl.Say(ctx, conv, "sip:alice@example.com", "second"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the bot answers the second message", echoes(2))
	want := []string{"hello bot", "Welcome, ", "echo: hello bot", "second", "echo: second"}
	if got := texts(transcript); !inOrder(got, want) {
		t.Errorf("transcript %q lacks, in order, %q", got, want)
	}

	// What the HTTP server shows of it.
	_, metrics := httpGet(t, base+"/metrics", "")
	for _, m := range []string{`kind="message.received"`, "ucwabot_rule_matches_total", "go_goroutines"} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	adminAPI(t, base, token, filepath.Join(dir, "rules", "bot.yaml"))
	notifyAPI(t, ctx, ctl, base, token, cfg)
	transcriptAPI(t, base, token)

	if code := bot.stop(t); code != 0 {
		t.Errorf("bot run exited %d; output:\n%s", code, bot.output())
	}
	if out := bot.output(); strings.Contains(out, password) || strings.Contains(out, token) {
		t.Errorf("a secret appears in the service's output")
	}
}

func countFrom(ms []ucwasim.Message, from, prefix string) int {
	n := 0
	for _, m := range ms {
		if m.From == from && strings.HasPrefix(m.Text, prefix) {
			n++
		}
	}
	return n
}

func texts(ms []ucwasim.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}

// inOrder reports whether each of want is a prefix of an element of got,
// in order.
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && strings.HasPrefix(g, want[i]) {
			i++
		}
	}
	return i == len(want)
}

// metricValue returns the value of an unlabelled series in /metrics.
func metricValue(t *testing.T, base, name string) float64 {
	t.Helper()
	code, body := httpGet(t, base+"/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("/metrics: %s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics lacks %s", name)
	return 0
}

// ruleList is the body of GET /admin/rules.
type ruleList struct {
	Version         string `json:"version"`
	LastReloadError string `json:"last_reload_error"`
	Rules           []struct {
		Name    string `json:"name"`
		Matches uint64 `json:"matches"`
	} `json:"rules"`
}

func getRules(t *testing.T, base, token string) ruleList {
	t.Helper()
	code, body := httpGet(t, base+"/admin/rules", token)
	var rs ruleList
	if err := json.Unmarshal([]byte(body), &rs); code != http.StatusOK || err != nil {
		t.Fatalf("/admin/rules = %d %s (%v)", code, body, err)
	}
	return rs
}

// adminAPI exercises the admin API of a service that ran the e2eRules
// from rulesFile and answered one conversation twice.
func adminAPI(t *testing.T, base, token, rulesFile string) {
	// Admin calls need the token.
	if code, _ := httpGet(t, base+"/admin/rules", ""); code != http.StatusUnauthorized {
		t.Errorf("/admin/rules without the token = %d, want 401", code)
	}
	if code, _ := httpGet(t, base+"/admin/rules", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("/admin/rules with a wrong token = %d, want 401", code)
	}

	// The rules, with their counters.
	rs := getRules(t, base, token)
	matches := map[string]uint64{}
	for _, r := range rs.Rules {
		matches[r.Name] = r.Matches
	}
	if len(rs.Rules) != 2 || rs.Version == "" || matches["echo"] != 2 || matches["greet"] < 1 {
		t.Errorf("/admin/rules = %+v", rs)
	}

	if got := metricValue(t, base, "ucwabot_rules_reload_failures_total"); got != 0 {
		t.Errorf("reload failures before any reload = %v, want 0", got)
	}

	// A reload that fails keeps the running rules and reports every error.
	writeFile(t, rulesFile, e2eRules+"  - name: broken\n    on: message.recieved\n    do: [reply]\n")
	code, body, err := httpDo(http.MethodPost, base+"/admin/rules/reload", token, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `bot.yaml:14:9: rule \"broken\": on: unknown event kind`) {
		t.Errorf("bad reload = %d %s", code, body)
	}
	// The file watcher reloads the same broken file once the writes settle
	// (250ms), which may count a second failure.
	if got := metricValue(t, base, "ucwabot_rules_reload_failures_total"); got != 1 && got != 2 {
		t.Errorf("reload failures after a failed reload = %v, want 1 (2 with the file watcher's)", got)
	}
	if now := getRules(t, base, token); now.Version != rs.Version || len(now.Rules) != 2 ||
		!strings.Contains(now.LastReloadError, `bot.yaml:14:9: rule "broken": on: unknown event kind`) {
		t.Errorf("after a failed reload the rules are %+v, want version %s and the reload error", now, rs.Version)
	}

	// A good reload replaces them.
	writeFile(t, rulesFile, e2eRules+"  - name: bye\n    on: participant.left\n    do: [leave]\n")
	code, body, err = httpDo(http.MethodPost, base+"/admin/rules/reload", token, nil)
	if err != nil {
		t.Fatal(err)
	}
	var reloaded ruleList
	if err := json.Unmarshal([]byte(body), &reloaded); code != http.StatusOK || err != nil ||
		len(reloaded.Rules) != 3 || reloaded.Version == rs.Version || reloaded.Rules[2].Name != "bye" {
		t.Errorf("reload = %d %s", code, body)
	}
	if got := metricValue(t, base, "ucwabot_rules_reloads_total"); got < 1 {
		t.Errorf("rule reloads after a good reload = %v, want at least 1", got)
	}
	if now := getRules(t, base, token); now.LastReloadError != "" {
		t.Errorf("after a good reload the last reload error is %q", now.LastReloadError)
	}

	// The conversations, with their state.
	type conversation struct {
		Account string         `json:"account"`
		ID      string         `json:"id"`
		State   map[string]any `json:"state"`
	}
	list := func() []conversation {
		code, body := httpGet(t, base+"/admin/conversations", token)
		var page struct {
			Conversations []conversation `json:"conversations"`
		}
		if err := json.Unmarshal([]byte(body), &page); code != http.StatusOK || err != nil {
			t.Fatalf("/admin/conversations = %d %s (%v)", code, body, err)
		}
		return page.Conversations
	}
	cs := list()
	if len(cs) != 1 || cs[0].Account != "sip:bot@example.com" || cs[0].ID == "" || cs[0].State["last"] != "second" {
		t.Fatalf("/admin/conversations = %+v", cs)
	}

	// Dropping a conversation's state.
	q := url.Values{"account": {cs[0].Account}, "id": {cs[0].ID}}
	if code, body, err := httpDo(http.MethodDelete, base+"/admin/conversations?"+q.Encode(), "", nil); err != nil || code != http.StatusUnauthorized {
		t.Errorf("drop without the token = %d %s (%v)", code, body, err)
	}
	if code, body, err := httpDo(http.MethodDelete, base+"/admin/conversations?"+q.Encode(), token, nil); err != nil || code != http.StatusNoContent {
		t.Fatalf("drop = %d %s (%v)", code, body, err)
	}
	if cs := list(); len(cs) != 0 {
		t.Errorf("after the drop: %+v", cs)
	}
	if code, body, _ := httpDo(http.MethodDelete, base+"/admin/conversations?account=x", token, nil); code != http.StatusBadRequest {
		t.Errorf("drop without id = %d %s", code, body)
	}
}

func TestRun_refuses_a_non_loopback_admin_address_without_a_token(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules", "bot.yaml"), e2eRules)
	cfg := filepath.Join(dir, "bot.yaml")
	writeFile(t, cfg, `accounts:
  - address: sip:bot@example.com
    discovery_url: http://127.0.0.1:1/Autodiscover/AutodiscoverService.svc/root
    insecure_http: true
    password_env: BOT_PASSWORD
rules: [rules]
store:
  path: `+filepath.Join(dir, "state.db")+`
http:
  listen: 0.0.0.0:0
`)
	r := runBot(t, "", []string{"BOT_PASSWORD=pw"}, "run", "--config", cfg)
	if r.code != 1 || !strings.Contains(r.stderr, cfg+":10:3: http.listen: \"0.0.0.0:0\" is not a loopback address") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// notifyAPI drives the notify API of a running bot: bot say writes to
// alice once per key, and bad requests get 4xx with a JSON error.
func notifyAPI(t *testing.T, ctx context.Context, ctl *simctl.Client, base, token, cfg string) {
	t.Helper()
	say := func() map[string]any {
		t.Helper()
		r := runBot(t, "", []string{"ADMIN_TOKEN=" + token}, "say", "--config", cfg, "--to", "sip:alice@example.com",
			"--subject", "deploy", "--key", "deploy-1", "deploy", "done")
		if r.code != 0 {
			t.Fatalf("bot say exited %d: %s%s", r.code, r.stdout, r.stderr)
		}
		var res map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("bot say printed %q: %v", r.stdout, err)
		}
		return res
	}
	first := say()
	if first["status"] != "sent" || first["id"] == "" || first["conversation"] == "" {
		t.Fatalf("bot say: %v, want sent with id and conversation", first)
	}
	if again := say(); again["id"] != first["id"] || again["status"] != "sent" {
		t.Fatalf("bot say again with the same key: %v, want %v", again, first)
	}
	said := func() int {
		convs, err := ctl.Conversations(ctx, "sip:bot@example.com")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range convs {
			ms, err := ctl.Transcript(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			n += countFrom(ms, "sip:bot@example.com", "deploy done")
		}
		return n
	}
	eventually(t, 30*time.Second, "alice gets the message", func() error {
		if n := said(); n != 1 {
			return fmt.Errorf("said %d times", n)
		}
		return nil
	})
	code, body, _ := httpDo(http.MethodGet, base+"/api/v1/messages/"+first["id"].(string), token, nil)
	if code != http.StatusOK || !strings.Contains(body, `"status": "sent"`) {
		t.Errorf("GET the message: %d %s", code, body)
	}
	for _, tc := range []struct {
		body, token string
		code        int
		says        string
	}{
		{`{"to": "sip:alice@example.com", "txt": "x"}`, token, http.StatusBadRequest, `unknown field`},
		{`{"to": "sip:alice@example.com", "text": 5}`, token, http.StatusBadRequest, `want a string, at byte 41`},
		{`{"to": "alice", "text": "x"}`, token, http.StatusBadRequest, "not a SIP URI"},
		{`{"account": "sip:nobody@example.com", "to": "sip:alice@example.com", "text": "x"}`, token, http.StatusNotFound, "unknown account"},
		{`{"to": "sip:alice@example.com", "text": "x"}`, "", http.StatusUnauthorized, "Bearer"},
	} {
		code, body, err := httpDo(http.MethodPost, base+"/api/v1/messages", tc.token, strings.NewReader(tc.body))
		if err != nil || code != tc.code || !strings.Contains(body, tc.says) {
			t.Errorf("POST %s: %d %s %v; want %d saying %q", tc.body, code, body, err, tc.code, tc.says)
		}
	}
	if n := said(); n != 1 {
		t.Errorf("after the refused requests alice got the message %d times", n)
	}
}

// transcriptAPI reads the transcripts the bot kept through the admin API.
func transcriptAPI(t *testing.T, base, token string) {
	t.Helper()
	var list struct {
		Transcripts []struct{ Account, Conversation string } `json:"transcripts"`
	}
	code, body, err := httpDo(http.MethodGet, base+"/admin/transcripts?limit=10", token, nil)
	if err != nil || code != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil || len(list.Transcripts) == 0 {
		t.Fatalf("GET /admin/transcripts: %d %s %v", code, body, err)
	}
	found := false
	for _, tr := range list.Transcripts {
		code, body, err := httpDo(http.MethodGet, base+"/admin/transcripts/entries?conversation="+url.QueryEscape(tr.Conversation)+"&limit=50", token, nil)
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET the transcript of %s: %d %s %v", tr.Conversation, code, body, err)
		}
		found = found || strings.Contains(body, `"text": "hello bot"`) && strings.Contains(body, `"text": "echo: hello bot"`)
	}
	if !found {
		t.Errorf("no transcript holds the conversation with alice: %v", list)
	}
	if code, body, _ := httpDo(http.MethodGet, base+"/admin/transcripts/entries?conversation=nope", token, nil); code != http.StatusNotFound {
		t.Errorf("an unknown transcript: %d %s", code, body)
	}
	// With an admin token configured every admin call needs it.
	if code, _, _ := httpDo(http.MethodGet, base+"/admin/transcripts", "", nil); code != http.StatusUnauthorized {
		t.Errorf("GET /admin/transcripts without the token: %d, want 401", code)
	}
}
