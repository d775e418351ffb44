package ucwa_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/ucwa"
)

func TestClient_signs_in_creates_application_and_becomes_available(t *testing.T) {
	sim := startSim(t)
	ctx := ctxT(t)
	c := newClient(t, sim)
	if err := c.SignIn(ctx); err != nil {
		t.Fatal(err)
	}
	tok, err := c.TokenSource().Token()
	if err != nil || !strings.HasPrefix(tok.AccessToken, "cwt=") {
		t.Fatalf("token %v %v", tok, err)
	}
	if !strings.HasPrefix(c.ApplicationsURL(), sim.URL()) {
		t.Fatalf("applications = %q", c.ApplicationsURL())
	}
	app, err := c.CreateApplication(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(app.URL, sim.URL()) || !strings.Contains(app.EventsURL, "ack=") {
		t.Fatalf("application %q events %q", app.URL, app.EventsURL)
	}
	// Lurker mode: no reportMyActivity link yet.
	if err := c.ReportMyActivity(ctx, app); !errors.Is(err, ucwa.ErrMakeMeAvailableRequired) {
		t.Fatalf("reportMyActivity before makeMeAvailable: %v", err)
	}
	if _, err := c.MyPresence(ctx, app); !errors.Is(err, ucwa.ErrMakeMeAvailableRequired) {
		t.Fatalf("presence before makeMeAvailable: %v", err)
	}
	if err := c.MakeMeAvailable(ctx, app, ucwa.AvailabilityOptions{}); err != nil {
		t.Fatal(err)
	}
	if app.Link("reportMyActivity") == "" {
		t.Fatal("no reportMyActivity link after makeMeAvailable")
	}
	// A second call finds the link gone and is content.
	if err := c.MakeMeAvailable(ctx, app, ucwa.AvailabilityOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.ReportMyActivity(ctx, app); err != nil {
		t.Fatal(err)
	}
	if av, err := c.MyPresence(ctx, app); err != nil || av != "Online" {
		t.Fatalf("presence %q %v", av, err)
	}
	if err := c.SetMyPresence(ctx, app, "Busy"); err != nil {
		t.Fatal(err)
	}
	if av := sim.Presence(botURI); av != "Busy" {
		t.Errorf("simulator sees %q", av)
	}
	if err := c.SetMyNote(ctx, app, "Ask me anything"); err != nil {
		t.Fatal(err)
	}
	if note, err := c.MyNote(ctx, app); err != nil || note != "Ask me anything" {
		t.Fatalf("note %q %v", note, err)
	}

	// Resume after a restart: a new client opens the same application.
	c2 := newClient(t, sim)
	if err := c2.SignIn(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := c2.OpenApplication(ctx, app.URL)
	if err != nil || again.URL != app.URL || again.EventsURL == "" {
		t.Fatalf("open: %v %+v", err, again)
	}
	if err := c.DeleteApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.OpenApplication(ctx, app.URL); !errors.Is(err, ucwa.ErrApplicationGone) {
		t.Fatalf("open deleted application: %v", err)
	}
	if err := c.DeleteApplication(ctx, app); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
}

func TestClient_wrong_password_is_refused_without_leaking_it(t *testing.T) {
	sim := startSim(t)
	c, err := ucwa.New(ucwa.Config{DiscoveryURL: sim.DiscoveryURL(), InsecureHTTP: true, Address: botURI, Password: "not-" + botPW, EndpointID: "e"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.SignIn(ctxT(t))
	if !errors.Is(err, ucwa.ErrInvalidGrant) {
		t.Fatalf("err = %v", err)
	}
	for _, s := range []string{err.Error(), strings.Join(strings.Fields(strings.ReplaceAll(
		strings.ReplaceAll(err.Error(), "\n", " "), "\t", " ")), " ")} {
		if strings.Contains(s, botPW) {
			t.Fatalf("password in error: %s", s)
		}
	}
}

func TestClient_polls_empty_batches_and_continues(t *testing.T) {
	s := available(t, startSim(t))
	first := s.next
	b := s.poll()
	b = s.poll()
	if s.next == first || b.Next == "" {
		t.Fatalf("no progress: %q → %q", first, s.next)
	}
	if !strings.Contains(s.next, "ack=") {
		t.Errorf("continuation %q", s.next)
	}
}
