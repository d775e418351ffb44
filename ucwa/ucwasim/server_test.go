package ucwasim

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"testing"
	"time"
)

func TestClose_releases_parked_PGETs_and_leaves_no_goroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser("sip:bot@contoso.com", "pw", "Bot"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser("sip:alice@contoso.com", "pw", "Alice"); err != nil {
		t.Fatal(err)
	}
	bot := available(t, s, "sip:bot@contoso.com")
	conv, err := s.Invite("sip:alice@contoso.com", "sip:bot@contoso.com", "hi")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		bot.collect(10)
		resp, _ := bot.do("GET", withTimeout(bot.next, "600"), "", "")
		done <- resp.StatusCode
	}()
	waited := make(chan error, 1)
	go func() {
		_, err := s.WaitTranscript(context.Background(), conv, 5)
		waited <- err
	}()
	waitParked(t, s, bot)
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != http.StatusServiceUnavailable {
		t.Errorf("parked P-GET on close = %d", code)
	}
	if err := <-waited; !errors.Is(err, ErrClosed) {
		t.Errorf("WaitTranscript on close = %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("Close took %v", time.Since(start))
	}
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after Close\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestPresence_of_people_and_bots(t *testing.T) {
	s := newServer(t, Options{})
	if got := s.Presence("sip:alice@contoso.com"); got != "Online" {
		t.Errorf("scripted person = %s", got)
	}
	if err := s.SetPresence("sip:alice@contoso.com", "DoNotDisturb"); err != nil || s.Presence("sip:alice@contoso.com") != "DoNotDisturb" {
		t.Errorf("SetPresence: %v %s", err, s.Presence("sip:alice@contoso.com"))
	}
	if err := s.SetPresence("sip:eve@contoso.com", "Busy"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("unknown user = %v", err)
	}
	bot := available(t, s, "sip:bot@contoso.com")
	if got := s.Presence("sip:bot@contoso.com"); got != "Online" {
		t.Errorf("available bot = %s", got)
	}
	bot.json("DELETE", href(bot.app, "self"), "", "", 204)
	if got := s.Presence("sip:bot@contoso.com"); got != "Offline" {
		t.Errorf("signed-out bot = %s", got)
	}
}

func TestAddUser_rejects_duplicates_and_non_sip(t *testing.T) {
	s := newServer(t, Options{})
	if err := s.AddUser("bot@contoso.com", "x", ""); !errors.Is(err, ErrUserExists) {
		t.Errorf("duplicate = %v", err)
	}
	if err := s.AddUser("nobody", "x", ""); err == nil {
		t.Error("a URI without @ must be rejected")
	}
}

func TestSent_lists_bot_messages_in_order_across_conversations(t *testing.T) {
	s := newServer(t, Options{})
	bot, _, messaging := connected(t, s)
	if _, err := s.Invite("sip:bob@contoso.com", "sip:bot@contoso.com", "yo"); err != nil {
		t.Fatal(err)
	}
	evs := bot.collect(5)
	inv := evs[0].ev["_embedded"].(map[string]any)["messagingInvitation"].(map[string]any)
	bot.json("POST", href(inv, "accept"), "", "", 204)
	evs = bot.collect(8)
	messaging2 := evs[0].ev["_embedded"].(map[string]any)["messaging"].(map[string]any)
	for i, m := range []map[string]any{messaging, messaging2, messaging} {
		bot.json("POST", href(m, "sendMessage"), "text/plain", string(rune('a'+i)), 201)
	}
	var got string
	for _, m := range s.Sent("sip:bot@contoso.com") {
		got += m.Text
	}
	if got != "abc" {
		t.Errorf("Sent order = %q", got)
	}
	if n := len(s.Conversations("sip:bot@contoso.com")); n != 2 {
		t.Errorf("Conversations = %d", n)
	}
}
