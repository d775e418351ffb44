package ucwasim

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// withTimeout sets the timeout parameter on an events href.
func withTimeout(href, seconds string) string {
	u, _ := url.Parse(href)
	q := u.Query()
	q.Set("timeout", seconds)
	u.RawQuery = q.Encode()
	return u.String()
}

// waitParked waits until the application of c has a P-GET parked.
func waitParked(t *testing.T, s *Server, c *tc) {
	t.Helper()
	id := strings.TrimPrefix(href(c.app, "self"), appsPath+"/")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		a := s.apps[id]
		parked := a != nil && a.events.parked != nil
		s.mu.Unlock()
		if parked {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("no P-GET parked")
}

func TestEvents_empty_batch_on_timeout_then_redelivery_and_ack(t *testing.T) {
	s := newServer(t, Options{InviteWait: -1})
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	first := bot.next
	b := bot.poll()
	if _, ok := b["sender"]; ok || !strings.HasSuffix(href(b, "next"), "ack=2") || !strings.HasSuffix(href(b, "self"), "ack=1") {
		t.Fatalf("empty batch = %v", b)
	}
	again := bot.json("GET", withTimeout(first, "1"), "", "", 200)
	if href(again, "next") != href(b, "next") {
		t.Errorf("redelivered batch = %v", again)
	}
	if _, err := s.Invite("sip:alice@contoso.com", "sip:bot@contoso.com", "x"); err == nil {
		t.Error("Invite to a lurking bot must fail")
	}
}

func TestEvents_out_of_range_ack_answers_resync(t *testing.T) {
	s := newServer(t, Options{})
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	bot.poll() // batch 1
	self := href(bot.app, "self")
	b := bot.json("GET", withTimeout(self+"/events?ack=9", "1"), "", "", 200)
	links := b["_links"].(map[string]any)
	if _, ok := links["next"]; ok || !strings.HasSuffix(href(b, "resync"), "ack=1") {
		t.Fatalf("resync body = %v", b)
	}
	bot.poll() // ack=2 acknowledges batch 1
	b = bot.json("GET", withTimeout(self+"/events?ack=1", "1"), "", "", 200)
	if !strings.HasSuffix(href(b, "resync"), "ack=2") {
		t.Fatalf("acknowledged ack must resync to 2: %v", b)
	}
}

func TestEvents_second_PGET_with_same_ack_replaces_the_first(t *testing.T) {
	s := newServer(t, Options{})
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	done := make(chan int, 1)
	go func() {
		resp, _ := bot.do("GET", withTimeout(bot.next, "30"), "", "")
		done <- resp.StatusCode
	}()
	waitParked(t, s, bot)
	resp, _ := bot.do("GET", withTimeout(bot.next, "1"), "", "")
	if resp.StatusCode != 200 {
		t.Errorf("second P-GET = %d", resp.StatusCode)
	}
	if got := <-done; got != 409 {
		t.Errorf("first P-GET = %d, want 409 PGetReplaced", got)
	}
	var found bool
	for _, r := range s.Requests() {
		found = found || (r.Rel == "events" && r.Status == 409)
	}
	if !found {
		t.Error("request log lacks the 409")
	}
}

func TestEvents_parked_PGET_is_released_by_an_event(t *testing.T) {
	s := newServer(t, Options{})
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	got := make(chan map[string]any, 1)
	go func() {
		got <- bot.json("GET", withTimeout(bot.next, "60"), "", "", 200)
	}()
	waitParked(t, s, bot)
	if _, err := s.Invite("sip:alice@contoso.com", "sip:bot@contoso.com", "x"); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if len(flatten(b)) != 5 {
			t.Errorf("batch = %v", flatten(b))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("P-GET not released by the invitation")
	}
}

func TestForceResync_and_ForceResume(t *testing.T) {
	s := newServer(t, Options{})
	bot, conv, _ := connected(t, s)
	s.ForceResync("sip:bot@contoso.com")
	b := bot.poll()
	if href(b, "resync") == "" || href(b, "next") != "" {
		t.Fatalf("forced resync = %v", b)
	}
	bot.poll()
	s.ForceResume("sip:bot@contoso.com")
	b = bot.poll()
	if href(b, "resume") == "" || href(b, "next") != "" || len(flatten(b)) != 0 {
		t.Fatalf("forced resume = %v", b)
	}
	if conv.State() != "Disconnected" {
		t.Errorf("conversation after resume = %s", conv.State())
	}
	if b := bot.poll(); len(flatten(b)) != 0 {
		t.Errorf("resume must not deliver deletion events: %v", flatten(b))
	}
	conversations := bot.json("GET", href(embedded(bot.app, "communication"), "conversations"), "", "", 200)
	if l := conversations["_links"].(map[string]any)["conversation"].([]any); len(l) != 0 {
		t.Errorf("conversations after resume = %v", l)
	}
}

func TestKillApplication_releases_the_PGET_with_404(t *testing.T) {
	s := newServer(t, Options{})
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	done := make(chan map[string]any, 1)
	go func() { done <- bot.json("GET", withTimeout(bot.next, "30"), "", "", 404) }()
	waitParked(t, s, bot)
	s.KillApplication("sip:bot@contoso.com")
	if m := <-done; m["subcode"] != "ApplicationNotFound" {
		t.Errorf("P-GET after kill = %v", m)
	}
}

func TestExpireApplication_answers_410(t *testing.T) {
	s := newServer(t, Options{})
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	s.ExpireApplication("sip:bot@contoso.com")
	m := bot.json("GET", href(bot.app, "self"), "", "", 410)
	if m["code"] != "Gone" || m["subcode"] != "InactiveApplicationExpired" {
		t.Errorf("after expire = %v", m)
	}
}

func TestEvents_timeout_parameter_is_remembered(t *testing.T) {
	s := newServer(t, Options{TimeScale: 1})
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	bot.json("GET", withTimeout(bot.next, "0.05"), "", "", 200) // 50 ms
	start := time.Now()
	bot.json("GET", strings.Replace(bot.next, "ack=1", "ack=2", 1), "", "", 200) // no timeout: the remembered one
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("second P-GET took %v; the timeout was not remembered", d)
	}
}

// An invitation dropped by a resume before any P-GET fetched it never
// reached the bot: its first message is undelivered (the sender is told).
// One the bot fetched before the resume reached it.
func TestForceResume_leaves_an_unfetched_invitations_message_undelivered(t *testing.T) {
	s := newServer(t, Options{})
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	fetched, err := s.Invite("sip:alice@contoso.com", "sip:bot@contoso.com", "fetched")
	if err != nil {
		t.Fatal(err)
	}
	bot.collect(5)
	unfetched, err := s.Invite("sip:alice@contoso.com", "sip:bot@contoso.com", "unfetched")
	if err != nil {
		t.Fatal(err)
	}
	s.ForceResume("sip:bot@contoso.com")
	if b := bot.poll(); href(b, "resume") == "" {
		t.Fatalf("forced resume = %v", b)
	}
	if m := fetched.Transcript(); len(m) != 1 || m[0].Undelivered {
		t.Errorf("fetched invitation's message = %+v, want delivered", m)
	}
	if m := unfetched.Transcript(); len(m) != 1 || !m[0].Undelivered {
		t.Errorf("unfetched invitation's message = %+v, want undelivered", m)
	}
}

func TestUnacknowledged_counts_events_until_the_next_P_GET_acknowledges_them(t *testing.T) {
	const uri = "sip:bot@contoso.com"
	s := newServer(t, Options{})
	bot := available(t, s, uri)
	for i := 0; s.Unacknowledged(uri) > 0; i++ {
		if i == 5 {
			t.Fatalf("%d events stay unacknowledged after 5 P-GETs", s.Unacknowledged(uri))
		}
		bot.poll()
	}
	if _, err := s.Invite("sip:alice@contoso.com", uri, "hi"); err != nil {
		t.Fatal(err)
	}
	if n := s.Unacknowledged(uri); n == 0 {
		t.Fatal("an invitation is queued, Unacknowledged says 0")
	}
	bot.poll()
	if n := s.Unacknowledged(uri); n == 0 {
		t.Fatal("the batch is delivered but not acknowledged, Unacknowledged says 0")
	}
	bot.poll()
	if n := s.Unacknowledged(uri); n != 0 {
		t.Fatalf("after the acknowledging P-GET: %d", n)
	}
}

func TestExpireApplication_leaves_a_fetched_but_unacknowledged_message_undelivered(t *testing.T) {
	const uri = "sip:bot@contoso.com"
	s := newServer(t, Options{})
	bot := available(t, s, uri)
	for i := 0; s.Unacknowledged(uri) > 0 && i < 5; i++ {
		bot.poll()
	}
	conv, err := s.Invite("sip:alice@contoso.com", uri, "hi")
	if err != nil {
		t.Fatal(err)
	}
	bot.poll() // fetched, and never acknowledged: the bot dies before its next P-GET
	if m := conv.Transcript()[0]; m.Undelivered {
		t.Fatal("the message is undelivered before the application goes")
	}
	s.ExpireApplication(uri)
	if m := conv.Transcript()[0]; !m.Undelivered {
		t.Fatal("the application expired with the message's batch unacknowledged, and the message is not marked undelivered")
	}
}
