package ucwasim

import (
	"context"
	"errors"
	"testing"
	"time"
)

// keepPolling polls c's event channel until the test ends, collecting events.
func keepPolling(t *testing.T, c *tc) <-chan flat {
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan flat, 1000)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			resp, b := c.do("GET", withTimeout(c.next, "5"), "", "")
			if resp.StatusCode != 200 {
				return
			}
			m := decode(b)
			if h := href(m, "next"); h != "" {
				c.next = h
			}
			for _, f := range flatten(m) {
				out <- f
			}
		}
	}()
	return out
}

// waitEvent waits for an event whose String() is want.
func waitEvent(t *testing.T, ch <-chan flat, want string) flat {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case f := <-ch:
			if f.String() == want {
				return f
			}
		case <-timeout:
			t.Fatalf("no %s event", want)
		}
	}
}

func TestAvailability_drops_to_Away_when_reportMyActivity_is_late(t *testing.T) {
	s := newServer(t, Options{TimeScale: 240, AppIdleTimeout: time.Hour}) // 4 minutes = 1 s
	bot := available(t, s, "sip:bot@contoso.com")
	evs := keepPolling(t, bot)
	if got := s.Presence("sip:bot@contoso.com"); got != "Online" {
		t.Fatalf("presence = %s", got)
	}
	waitEvent(t, evs, "me>presence:updated")
	if got := s.Presence("sip:bot@contoso.com"); got != "Away" {
		t.Fatalf("presence after 4 minutes = %s", got)
	}
	bot.json("POST", href(embedded(bot.app, "me"), "reportMyActivity"), "", "", 204)
	if got := s.Presence("sip:bot@contoso.com"); got != "Online" {
		t.Errorf("presence after reportMyActivity = %s", got)
	}
	waitEvent(t, evs, "me>presence:updated")
}

func TestApplication_expires_when_not_polled(t *testing.T) {
	s := newServer(t, Options{TimeScale: 300}) // 3 simulated minutes = 0.6 s
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	bot.poll()
	time.Sleep(800 * time.Millisecond)
	m := bot.json("GET", href(bot.app, "self"), "", "", 410)
	if m["subcode"] != "InactiveApplicationExpired" {
		t.Errorf("idle application = %v", m)
	}
}

func TestApplication_lives_while_a_PGET_is_parked(t *testing.T) {
	s := newServer(t, Options{TimeScale: 300}) // 3 simulated minutes = 0.6 s
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	done := make(chan struct{})
	go func() {
		defer close(done)
		bot.do("GET", withTimeout(bot.next, "600"), "", "") // 2 s real
	}()
	waitParked(t, s, bot)
	time.Sleep(800 * time.Millisecond)
	bot.json("GET", href(bot.app, "self"), "", "", 200)
	<-done
}

func TestIncoming_message_not_polled_within_30s_is_dropped(t *testing.T) {
	s := newServer(t, Options{TimeScale: 100, AppIdleTimeout: time.Hour})
	bot, conv, _ := connected(t, s)
	if err := conv.Say("sip:alice@contoso.com", "anyone?"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // 50 simulated seconds
	if evs := flatten(bot.poll()); len(evs) != 0 {
		t.Errorf("dropped message delivered: %v", evs)
	}
	tr := conv.Transcript()
	if last := tr[len(tr)-1]; last.Text != "anyone?" || !last.Undelivered {
		t.Errorf("transcript = %+v", tr)
	}
	if err := conv.Say("sip:alice@contoso.com", "now?"); err != nil {
		t.Fatal(err)
	}
	if evs := flatten(bot.poll()); len(evs) != 1 || evs[0].rel != "message" {
		t.Errorf("polled message = %v", evs)
	}
	if tr := conv.Transcript(); tr[len(tr)-1].Undelivered {
		t.Error("polled message marked undelivered")
	}
}

func TestMessages_lost_with_the_application_are_marked_undelivered(t *testing.T) {
	s := newServer(t, Options{})
	_, conv, _ := connected(t, s)
	if err := conv.Say("sip:alice@contoso.com", "into the void"); err != nil {
		t.Fatal(err)
	}
	s.KillApplication("sip:bot@contoso.com")
	tr := conv.Transcript()
	if last := tr[len(tr)-1]; !last.Undelivered || conv.State() != "Disconnected" {
		t.Errorf("after kill: %+v, state %s", last, conv.State())
	}
	if err := conv.Say("sip:alice@contoso.com", "x"); !errors.Is(err, ErrConversationEnded) {
		t.Errorf("Say after kill = %v", err)
	}
}
