package ucwa_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/ucwabot/ucwabot/ucwa"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// The read of the application after makeMeAvailable fails: the error says
// the POST went through (ErrNotRefreshed), the event channel works, and
// ReportMyActivity reads the links it lacks.
func TestMakeMeAvailable_whose_read_back_fails_is_available_and_reportMyActivity_reads_the_links(t *testing.T) {
	sim := startSim(t)
	ctx := ctxT(t)
	c := newClient(t, sim)
	if err := c.SignIn(ctx); err != nil {
		t.Fatal(err)
	}
	app, err := c.CreateApplication(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sim.Inject(ucwasim.Fault{Method: "GET", Rel: "application", Status: 500})
	err = c.MakeMeAvailable(ctx, app, ucwa.AvailabilityOptions{})
	if !errors.Is(err, ucwa.ErrNotRefreshed) || !ucwa.IsTransient(err) {
		t.Fatalf("MakeMeAvailable = %v, want ErrNotRefreshed wrapping the 500", err)
	}
	if app.Link("reportMyActivity") != "" {
		t.Fatal("reportMyActivity link known without a read after makeMeAvailable")
	}
	if p := sim.Presence(botURI); p != "Online" {
		t.Fatalf("presence %q after makeMeAvailable, want Online", p)
	}
	if _, err := c.Poll(ctx, app.EventsURL, 1); err != nil {
		t.Fatalf("poll after the failed read-back: %v", err)
	}
	if err := c.ReportMyActivity(ctx, app); err != nil {
		t.Fatalf("reportMyActivity without the link: %v", err)
	}
	if app.Link("reportMyActivity") == "" {
		t.Fatal("reportMyActivity did not read the application's links")
	}
}

// Config.BeforeSend is asked before every request; its error keeps the
// request from the server.
func TestConfig_BeforeSend_stops_a_request_before_it_leaves(t *testing.T) {
	sim := startSim(t)
	ctx := ctxT(t)
	var refuse atomic.Bool
	errNo := errors.New("lease gone (test)")
	var asked atomic.Int64
	c, err := ucwa.New(ucwa.Config{DiscoveryURL: sim.DiscoveryURL(), InsecureHTTP: true, Address: botURI, Password: botPW, EndpointID: "ep-" + t.Name(),
		BeforeSend: func(context.Context) error {
			asked.Add(1)
			if refuse.Load() {
				return errNo
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SignIn(ctx); err != nil {
		t.Fatal(err)
	}
	app, err := c.CreateApplication(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if asked.Load() == 0 {
		t.Fatal("BeforeSend never asked")
	}
	refuse.Store(true)
	n := len(sim.Requests())
	err = c.MakeMeAvailable(ctx, app, ucwa.AvailabilityOptions{})
	if !errors.Is(err, ucwa.ErrNotSent) || !errors.Is(err, errNo) {
		t.Fatalf("MakeMeAvailable = %v, want ErrNotSent and the hook's error", err)
	}
	if _, err := c.Poll(ctx, app.EventsURL, 1); !errors.Is(err, ucwa.ErrNotSent) {
		t.Fatalf("Poll = %v, want ErrNotSent", err)
	}
	if got := sim.Requests()[n:]; len(got) != 0 {
		t.Fatalf("requests reached the server after BeforeSend refused: %+v", got)
	}
	if c.NeedsRediscovery() {
		t.Fatal("requests not sent counted as unanswered (rediscovery)")
	}
}
