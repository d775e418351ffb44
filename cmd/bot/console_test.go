package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemoWeb_prints_a_console_URL_that_works_and_stops_on_SIGINT runs
// `bot demo --web` as a person would: the printed URL serves the console,
// its token opens the calls, the playground talks to the bot, and Ctrl-C
// ends the demo with exit 0.
func TestDemoWeb_prints_a_console_URL_that_works_and_stops_on_SIGINT(t *testing.T) {
	p := startBot(t, nil, "demo", "--web")
	url := p.waitFor(t, regexp.MustCompile(`(http://127\.0\.0\.1:\d+/console/#token=[0-9a-f]+)`), 60*time.Second)
	page, token, _ := strings.Cut(url, "#token=")
	resp, err := http.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: %d %s", page, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	api := strings.TrimSuffix(page, "/") + "/api/"
	get := func(path string, v any) int {
		req, _ := http.NewRequest("GET", api+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if v != nil {
			_ = json.NewDecoder(resp.Body).Decode(v)
		}
		return resp.StatusCode
	}
	var ov struct{ Playground, Apply bool }
	if code := get("overview", &ov); code != 200 || !ov.Playground || !ov.Apply {
		t.Fatalf("overview: %d %+v, want the playground and apply", code, ov)
	}
	if resp, err := http.Get(api + "overview"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a call without the printed token: %v %v, want 401", resp.Status, err)
	}
	req, _ := http.NewRequest("POST", api+"playground/act", strings.NewReader(`{"verb":"invite","who":"alice","text":"Hi, my VPN is down"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("playground invite: %v %v", resp, err)
	}
	var act struct{ Conversation string }
	_ = json.NewDecoder(resp.Body).Decode(&act)
	resp.Body.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var msgs []struct{ From, Text string }
		get("playground/transcript?conversation="+act.Conversation, &msgs)
		if len(msgs) > 0 && strings.Contains(msgs[len(msgs)-1].Text, "known incident") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer to Alice within 30s: %+v\n%s", msgs, p.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A fault from the playground: the bot's next reply fails once.
	req, _ = http.NewRequest("POST", api+"playground/act", strings.NewReader(`{"verb":"fault","fault":"send-500"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("playground fault: %v %v", resp, err)
	}
	resp.Body.Close()
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d after SIGINT; output:\n%s", code, p.output())
	}
}
