package ucwasim

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// appOf returns the server's application behind test client c.
func appOf(s *Server, c *tc) *application {
	id := strings.TrimPrefix(href(c.app, "self"), appsPath+"/")
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apps[id]
}

// queuedEvents lists the events waiting in c's event channel as sender>rel:type.
func queuedEvents(s *Server, c *tc) []string {
	a := appOf(s, c)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, q := range a.events.pending {
		out = append(out, q.sender+">"+q.ev["link"].(map[string]any)["rel"].(string)+":"+q.ev["type"].(string))
	}
	return out
}

// peopleEvents keeps the people> events of evs.
func peopleEvents(evs []string) []string {
	var out []string
	for _, e := range evs {
		if strings.HasPrefix(e, "people>") {
			out = append(out, e)
		}
	}
	return out
}

func manualServer(t *testing.T, o Options) *Server {
	t.Helper()
	o.ManualClock = true
	return newServer(t, o)
}

func TestManualClock_moves_only_with_Advance(t *testing.T) {
	s := manualServer(t, Options{})
	t0 := s.Now()
	time.Sleep(20 * time.Millisecond)
	if got := s.Now(); !got.Equal(t0) {
		t.Fatalf("manual clock moved by itself: %v → %v", t0, got)
	}
	s.Advance(90 * time.Second)
	if got := s.Now().Sub(t0); got != 90*time.Second {
		t.Errorf("after Advance(90s) the clock moved %v", got)
	}
}

func TestTimers_drop_a_message_not_polled_in_more_than_30s(t *testing.T) {
	s := manualServer(t, Options{AppIdleTimeout: time.Hour})
	bot, conv, _ := connected(t, s)
	if err := conv.Say("sip:alice@contoso.com", "anyone?"); err != nil {
		t.Fatal(err)
	}
	s.Advance(20 * time.Second)
	if err := conv.Say("sip:alice@contoso.com", "still there?"); err != nil {
		t.Fatal(err)
	}
	s.Advance(10 * time.Second) // the first message is exactly 30 s old: kept
	if tr := conv.Transcript(); tr[len(tr)-2].Undelivered {
		t.Fatalf("message dropped at exactly 30 s: %+v", tr)
	}
	s.Advance(time.Nanosecond)
	tr := conv.Transcript()
	if first, second := tr[len(tr)-2], tr[len(tr)-1]; !first.Undelivered || second.Undelivered {
		t.Fatalf("after 30 s + 1 ns: first undelivered %v, second undelivered %v", first.Undelivered, second.Undelivered)
	}
	if got := queuedEvents(s, bot); len(got) != 1 || got[0] != "conversation>message:completed" {
		t.Fatalf("queued after the drop = %v", got)
	}
	s.Advance(20 * time.Second) // the timer was armed again for the second message
	if tr := conv.Transcript(); !tr[len(tr)-1].Undelivered {
		t.Fatalf("second message kept after 40 s")
	}
	if got := queuedEvents(s, bot); len(got) != 0 {
		t.Errorf("queued = %v", got)
	}
}

func TestTimers_a_polled_message_is_never_dropped(t *testing.T) {
	s := manualServer(t, Options{AppIdleTimeout: time.Hour})
	bot, conv, _ := connected(t, s)
	if err := conv.Say("sip:alice@contoso.com", "ping"); err != nil {
		t.Fatal(err)
	}
	if evs := flatten(bot.poll()); len(evs) != 1 {
		t.Fatalf("polled %v", evs)
	}
	s.Advance(time.Minute)
	if tr := conv.Transcript(); tr[len(tr)-1].Undelivered {
		t.Error("a polled message was marked undelivered")
	}
}

func TestTimers_Away_after_more_than_4_minutes_without_activity(t *testing.T) {
	s := manualServer(t, Options{AppIdleTimeout: time.Hour})
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	s.Advance(3 * time.Minute)
	bot.json("POST", href(embedded(bot.app, "me"), "reportMyActivity"), "", "", 204)
	s.Advance(4 * time.Minute) // 4 minutes after the report: not late yet
	if got := s.Presence("sip:bot@contoso.com"); got != "Online" {
		t.Fatalf("presence at 4 minutes = %s", got)
	}
	if got := queuedEvents(s, bot); len(got) != 0 {
		t.Fatalf("queued at 4 minutes = %v", got)
	}
	s.Advance(time.Nanosecond)
	if got := s.Presence("sip:bot@contoso.com"); got != "Away" {
		t.Fatalf("presence after 4 minutes = %s", got)
	}
	if got := queuedEvents(s, bot); len(got) != 1 || got[0] != "me>presence:updated" {
		t.Fatalf("queued after 4 minutes = %v", got)
	}
	s.Advance(time.Hour - 8*time.Minute) // Away is reported once
	if got := queuedEvents(s, bot); len(got) != 1 {
		t.Errorf("queued later = %v", got)
	}
}

func TestTimers_application_expires_more_than_AppIdleTimeout_after_its_last_PGET(t *testing.T) {
	s := manualServer(t, Options{})
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	done := make(chan map[string]any, 1)
	go func() {
		resp, b := bot.do("GET", withTimeout(bot.next, "900"), "", "")
		m := decode(b)
		if resp.StatusCode != 200 {
			m = map[string]any{"status": resp.StatusCode, "body": string(b)}
		}
		done <- m
	}()
	waitParked(t, s, bot)
	s.Advance(10 * time.Minute) // a parked P-GET keeps the application alive
	bot.json("GET", href(bot.app, "self"), "", "", 200)
	select {
	case b := <-done:
		t.Fatalf("P-GET answered before its 900 s timeout: %v", b)
	default:
	}
	s.Advance(5 * time.Minute)
	select {
	case b := <-done:
		if href(b, "next") == "" {
			t.Fatalf("P-GET timeout answer = %v", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("P-GET not answered 900 simulated seconds after it parked")
	}
	s.Advance(3 * time.Minute)
	bot.json("GET", href(bot.app, "self"), "", "", 200)
	s.Advance(time.Nanosecond)
	if a := appOf(s, bot); a == nil || a.state != appExpired {
		t.Fatalf("application not expired by the timer")
	}
	m := bot.json("GET", href(bot.app, "self"), "", "", 410)
	if m["subcode"] != "InactiveApplicationExpired" {
		t.Errorf("idle application = %v", m)
	}
	if n := s.timersLen(); n != 0 {
		t.Errorf("%d timers left for an expired application", n)
	}
}

func TestTimers_outgoing_invitation_fails_after_more_than_30s(t *testing.T) {
	s := manualServer(t, Options{AppIdleTimeout: time.Hour})
	s.SetAutoAccept("sip:alice@contoso.com", false)
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	bot.json("POST", href(embedded(bot.app, "communication"), "startMessaging"), "application/json", `{"to":"sip:alice@contoso.com"}`, 201)
	convs := s.Conversations("sip:bot@contoso.com")
	if len(convs) != 1 {
		t.Fatalf("conversations = %v", convs)
	}
	s.Advance(30 * time.Second)
	if st := convs[0].State(); st != "Connecting" {
		t.Fatalf("state at 30 s = %s", st)
	}
	s.Advance(time.Nanosecond)
	if st := convs[0].State(); st != "Disconnected" {
		t.Fatalf("state after 30 s = %s", st)
	}
	got := strings.Join(queuedEvents(s, bot), " ")
	if !strings.Contains(got, "communication>messagingInvitation:completed") || !strings.HasSuffix(got, "communication>conversation:deleted") {
		t.Errorf("queued = %s", got)
	}
}

func TestTimers_subscription_warns_a_minute_before_it_expires(t *testing.T) {
	s := manualServer(t, Options{AppIdleTimeout: time.Hour})
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	sub := subscribe(t, bot, `{"duration":11,"uris":["sip:alice@contoso.com"]}`)
	for len(queuedEvents(s, bot)) > 0 {
		bot.poll()
	}
	s.Advance(10*time.Minute - time.Nanosecond)
	if got := peopleEvents(queuedEvents(s, bot)); len(got) != 0 {
		t.Fatalf("queued before the warning = %v", got)
	}
	s.Advance(time.Nanosecond)
	if got := peopleEvents(queuedEvents(s, bot)); len(got) != 1 || got[0] != "people>presenceSubscription:updated" {
		t.Fatalf("queued at the warning = %v", got)
	}
	s.Advance(time.Minute)
	if got := peopleEvents(queuedEvents(s, bot)); len(got) != 2 || got[1] != "people>presenceSubscription:deleted" {
		t.Fatalf("queued at the expiry = %v", got)
	}
	bot.json("GET", href(sub, "self"), "", "", 404)
}

func TestTimers_heap_holds_a_few_deadlines_per_application_not_per_conversation(t *testing.T) {
	s := manualServer(t, Options{AppIdleTimeout: time.Hour})
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	for i := 0; i < 500; i++ {
		c, err := s.Invite("sip:alice@contoso.com", "sip:bot@contoso.com", fmt.Sprint("hi ", i))
		if err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		c.acceptLocked()
		s.mu.Unlock()
		if err := c.Say("sip:alice@contoso.com", "more"); err != nil {
			t.Fatal(err)
		}
	}
	// idle (no P-GET parked), Away, and one delivery rule for all 1,000 queued messages
	if n := s.timersLen(); n != 3 {
		t.Errorf("%d timers with 500 conversations, want 3", n)
	}
	bot.poll()
	if n := s.timersLen(); n != 2 {
		t.Errorf("%d timers after the poll took the messages, want 2", n)
	}
}

func TestIDs_do_not_collide(t *testing.T) {
	s := manualServer(t, Options{})
	seen := make(map[string]bool, 200000)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < 200000; i++ {
		id := s.newID()
		if seen[id] {
			t.Fatalf("id %s made twice (after %d ids)", id, i)
		}
		seen[id] = true
	}
}
