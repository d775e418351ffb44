package ucwasim

import (
	"strings"
	"testing"
	"time"
)

// subscribe creates a presence subscription and returns the created resource.
func subscribe(t *testing.T, c *tc, body string) map[string]any {
	t.Helper()
	return c.json("POST", href(embedded(c.app, "people"), "presenceSubscriptions"), "application/json", body, 201)
}

func TestPresenceSubscription_create_events_and_contactPresence(t *testing.T) {
	s := newServer(t, Options{})
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	sub := subscribe(t, bot, `{"duration":11,"Uris":["sip:alice@contoso.com"]}`)
	sameShape(t, "presenceSubscription", sample(t, "SubscribeToThePresenceOfSelectedContacts__doc-response__1.json"), sub)
	assertEvents(t, bot.collect(3), []string{
		"people>contact(in subscribedContacts):added",
		"people>presenceSubscription:added",
		"people>contactPresence(in contact):updated",
	})
	if err := s.SetPresence("sip:alice@contoso.com", "Busy"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPresence("sip:bob@contoso.com", "Busy"); err != nil { // not subscribed: no event
		t.Fatal(err)
	}
	evs := bot.collect(1)
	sameEvents(t, evs, "SubscribeToThePresenceOfAGroupOfContacts__doc-events__1.json")
	if len(evs) != 1 {
		t.Errorf("events = %v", evs)
	}
	cp := bot.json("GET", evs[0].ev["link"].(map[string]any)["href"].(string), "", "", 200)
	sameShape(t, "contactPresence", sample(t, "SubscribeToThePresenceOfSelectedContacts__doc-response__2.json"), cp)
	if cp["availability"] != "Busy" {
		t.Errorf("contactPresence = %v", cp)
	}
	list := bot.json("GET", href(embedded(bot.app, "people"), "presenceSubscriptions"), "", "", 200)
	if l := list["_embedded"].(map[string]any)["presenceSubscription"].([]any); len(l) != 1 {
		t.Errorf("list = %v", list)
	}
	infos := s.Subscriptions("sip:bot@contoso.com")
	if len(infos) != 1 || infos[0].URL != href(sub, "self") || len(infos[0].URIs) != 1 {
		t.Errorf("Subscriptions = %+v", infos)
	}
}

func TestPresenceSubscription_duration_is_clamped_and_extended_up_to_30_minutes(t *testing.T) {
	s := newServer(t, Options{})
	bot := available(t, s, "sip:bot@contoso.com")
	for _, tt := range []struct {
		body string
		want time.Duration
	}{
		{`{"duration":5,"uris":[]}`, 10 * time.Minute},
		{`{"duration":45,"uris":[]}`, 30 * time.Minute},
		{`{"duration":15,"uris":[]}`, 15 * time.Minute},
	} {
		sub := subscribe(t, bot, tt.body)
		exp := expiry(t, s, href(sub, "self"))
		if d := exp.Sub(s.Now()); d > tt.want || d < tt.want-time.Minute {
			t.Errorf("%s: expires in %v, want %v", tt.body, d, tt.want)
		}
	}
	sub := subscribe(t, bot, `{"duration":15,"uris":[]}`)
	ext := bot.json("POST", href(sub, "self")+"?duration=11", "", "", 200)
	sameShape(t, "extend", sample(t, "ExtendAPresenceSubscription__doc-response__1.json"), ext)
	if d := expiry(t, s, href(sub, "self")).Sub(s.Now()); d < 25*time.Minute || d > 26*time.Minute {
		t.Errorf("extended to %v, want ~26m", d)
	}
	bot.json("POST", href(sub, "self")+"?duration=30", "", "", 200)
	if d := expiry(t, s, href(sub, "self")).Sub(s.Now()); d > 30*time.Minute {
		t.Errorf("extension not capped: %v", d)
	}
	m := bot.json("POST", href(sub, "self"), "", "", 400)
	if m["subcode"] != "ParameterValidationFailure" {
		t.Errorf("missing duration = %v", m)
	}
}

func expiry(t *testing.T, s *Server, url string) time.Time {
	t.Helper()
	for _, i := range s.Subscriptions("sip:bot@contoso.com") {
		if i.URL == url {
			return i.Expires
		}
	}
	t.Fatalf("no subscription %s", url)
	return time.Time{}
}

func TestPresenceSubscription_members_and_delete(t *testing.T) {
	s := newServer(t, Options{})
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	sub := subscribe(t, bot, `{"duration":30,"uris":["sip:alice@contoso.com"]}`)
	bot.collect(3)
	ms := bot.json("POST", href(sub, "addToPresenceSubscription"), "application/json", `{"contactUris":["sip:bob@contoso.com"]}`, 201)
	sameShape(t, "memberships", sample(t, "presenceSubscriptionMemberships__post-response__1.json"), ms)
	assertEvents(t, bot.collect(2), []string{"people>contact(in subscribedContacts):added", "people>contactPresence(in contact):updated"})
	ms = bot.json("GET", href(sub, "memberships"), "", "", 200)
	list := ms["_embedded"].(map[string]any)["presenceSubscriptionMembership"].([]any)
	if len(list) != 2 {
		t.Fatalf("memberships = %v", list)
	}
	bobSelf := href(list[1].(map[string]any), "self")
	if !strings.Contains(bobSelf, "bob@contoso.com") {
		t.Fatalf("second membership = %s", bobSelf)
	}
	bot.json("DELETE", bobSelf, "", "", 204)
	assertEvents(t, bot.collect(1), []string{"people>contact(in subscribedContacts):deleted"})
	bot.json("DELETE", href(sub, "self"), "", "", 204)
	sameEvents(t, bot.collect(2), "DeleteAPresenceSubscription__doc-events__1.json")
	m := bot.json("POST", href(sub, "self")+"?duration=11", "", "", 404)
	sameShape(t, "404", sample(t, "ExtendAPresenceSubscription__doc-response__2.json"), m)
	if len(s.Subscriptions("sip:bot@contoso.com")) != 0 {
		t.Error("subscription still listed")
	}
}

func TestPresenceSubscription_warns_before_expiry_then_expires(t *testing.T) {
	s := newServer(t, Options{TimeScale: 600, AppIdleTimeout: time.Hour}) // 10 minutes = 1 s
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	created := s.Now()
	sub := subscribe(t, bot, `{"duration":10,"uris":["sip:alice@contoso.com"]}`)
	evs := keepPolling(t, bot)
	warn := waitEvent(t, evs, "people>presenceSubscription:updated")
	if after := s.Now().Sub(created); after < 9*time.Minute-10*time.Second {
		t.Errorf("warning %v after creation, want a minute before the 10 minutes end", after)
	}
	sameShape(t, "warning", flatten(sample(t, "ExtendAPresenceSubscription__doc-events__1.json"))[0].ev, warn.ev)
	waitEvent(t, evs, "people>presenceSubscription:deleted")
	if after := s.Now().Sub(created); after < 10*time.Minute {
		t.Errorf("deleted %v after creation, before its 10 minutes", after)
	}
	m := bot.json("POST", href(sub, "self")+"?duration=11", "", "", 404)
	if m["subcode"] != "ApplicationNotFound" {
		t.Errorf("extend after expiry = %v", m)
	}
}

func TestPresenceSubscriptions_are_dropped_by_resume(t *testing.T) {
	s := newServer(t, Options{})
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	subscribe(t, bot, `{"duration":30,"uris":["sip:alice@contoso.com"]}`)
	bot.collect(3)
	s.ForceResume("sip:bot@contoso.com")
	bot.poll()
	if got := s.Subscriptions("sip:bot@contoso.com"); len(got) != 0 {
		t.Errorf("subscriptions after resume = %v", got)
	}
}
