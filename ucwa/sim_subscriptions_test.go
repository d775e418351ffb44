package ucwa_test

import (
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/ucwa"
)

func TestClient_presence_subscription_lifecycle(t *testing.T) {
	sim := startSim(t)
	s := available(t, sim)
	ctx := ctxT(t)

	before := countRequests(sim, "presenceSubscriptions")
	for _, d := range []time.Duration{0, 9 * time.Minute, 31 * time.Minute, time.Hour} {
		if _, err := s.c.Subscribe(ctx, s.app, []string{aliceURI}, d); !errors.Is(err, ucwa.ErrDuration) {
			t.Errorf("Subscribe(%s) = %v, want ErrDuration", d, err)
		}
	}
	if n := countRequests(sim, "presenceSubscriptions"); n != before {
		t.Fatalf("%d requests sent for rejected durations", n-before)
	}

	sub, err := s.c.Subscribe(ctx, s.app, []string{aliceURI}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if sub.URL == "" || sub.Duration != 10*time.Minute {
		t.Fatalf("subscription %+v", sub)
	}
	if infos := sim.Subscriptions(botURI); len(infos) != 1 || len(infos[0].URIs) != 1 {
		t.Fatalf("simulator subscriptions %+v", infos)
	}
	if err := s.c.ExtendSubscription(ctx, sub, 9*time.Minute); !errors.Is(err, ucwa.ErrDuration) {
		t.Errorf("extend by 9m: %v", err)
	}
	if err := s.c.ExtendSubscription(ctx, sub, 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	if exp := sim.Subscriptions(botURI)[0].Expires; exp.Sub(sim.Now()) < 25*time.Minute {
		t.Errorf("expires in %s after extending", exp.Sub(sim.Now()))
	}

	if err := s.c.AddMembers(ctx, sub, []string{carolURI}); err != nil {
		t.Fatal(err)
	}
	members, err := s.c.Members(ctx, sub)
	sort.Strings(members)
	if err != nil || len(members) != 2 || members[0] != aliceURI || members[1] != carolURI {
		t.Fatalf("members %v %v", members, err)
	}
	if err := s.c.RemoveMember(ctx, sub, carolURI); err != nil {
		t.Fatal(err)
	}
	if err := s.c.RemoveMember(ctx, sub, carolURI); err == nil {
		t.Error("removing a non-member succeeded")
	}
	if members, err = s.c.Members(ctx, sub); err != nil || len(members) != 1 || members[0] != aliceURI {
		t.Fatalf("members %v %v", members, err)
	}

	if err := sim.SetPresence(aliceURI, "Busy"); err != nil {
		t.Fatal(err)
	}
	ev := s.waitEvent("people", "contactPresence", "updated", nil)
	if ev.In.Rel != "contact" {
		t.Errorf("in = %+v", ev.In)
	}
	if av, _, err := s.c.ContactPresence(ctx, ev.Link.Href); err != nil || av != "Busy" {
		t.Fatalf("contact presence %q %v", av, err)
	}

	if err := s.c.Unsubscribe(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if infos := sim.Subscriptions(botURI); len(infos) != 0 {
		t.Fatalf("still subscribed: %+v", infos)
	}
	// PROTOCOL.md §13.8: the server says ApplicationNotFound for a gone subscription; the
	// client reports the subscription gone, not the application.
	err = s.c.ExtendSubscription(ctx, sub, 10*time.Minute)
	if !errors.Is(err, ucwa.ErrSubscriptionGone) || errors.Is(err, ucwa.ErrApplicationGone) {
		t.Fatalf("extend after delete: %v", err)
	}
	if err := s.c.Unsubscribe(ctx, sub); err != nil {
		t.Fatalf("unsubscribing twice: %v", err)
	}
	if err := s.c.ReportMyActivity(ctx, s.app); err != nil {
		t.Fatalf("application hurt: %v", err)
	}
}
