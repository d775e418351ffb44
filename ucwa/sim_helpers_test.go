package ucwa_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/ucwa"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

const (
	botURI   = "sip:bot@contoso.com"
	botPW    = "bot-Pa55word!"
	aliceURI = "sip:alice@contoso.com"
	carolURI = "sip:carol@contoso.com"
)

// startSim starts a simulator on 127.0.0.1 with the bot and two people.
func startSim(t *testing.T) *ucwasim.Server {
	t.Helper()
	sim, err := ucwasim.New(ucwasim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	for _, u := range []struct{ uri, pw, name string }{
		{botURI, botPW, "Bot"}, {aliceURI, "alice-pw", "Alice Ames"}, {carolURI, "carol-pw", "Carol Cole"},
	} {
		if err := sim.AddUser(u.uri, u.pw, u.name); err != nil {
			t.Fatal(err)
		}
	}
	return sim
}

func newClient(t *testing.T, sim *ucwasim.Server) *ucwa.Client {
	t.Helper()
	c, err := ucwa.New(ucwa.Config{DiscoveryURL: sim.DiscoveryURL(), InsecureHTTP: true, Address: botURI, Password: botPW, EndpointID: "ep-" + t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// session is a signed-in, available bot with its event channel position.
type session struct {
	t    *testing.T
	sim  *ucwasim.Server
	c    *ucwa.Client
	app  *ucwa.Application
	next string
	// pending holds events polled but not yet looked at by waitEvent.
	pending []ucwa.Event
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// available signs the bot in, creates its application and makes it available.
func available(t *testing.T, sim *ucwasim.Server) *session {
	t.Helper()
	ctx := ctxT(t)
	c := newClient(t, sim)
	if err := c.SignIn(ctx); err != nil {
		t.Fatal(err)
	}
	app, err := c.CreateApplication(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeMeAvailable(ctx, app, ucwa.AvailabilityOptions{}); err != nil {
		t.Fatal(err)
	}
	return &session{t: t, sim: sim, c: c, app: app, next: app.EventsURL}
}

// poll P-GETs once (1 s timeout) and advances the position.
func (s *session) poll() *ucwa.Batch {
	s.t.Helper()
	b, err := s.c.Poll(ctxT(s.t), s.next, time.Second)
	if err != nil {
		s.t.Fatalf("poll %s: %v", s.next, err)
	}
	if b.Continue() == "" {
		s.t.Fatal("batch without continuation")
	}
	s.next = b.Continue()
	return b
}

// waitEvent polls until an event matching sender, link rel and type arrives (and ok, when
// given, accepts it), and returns it.
func (s *session) waitEvent(sender, rel, typ string, ok func(ucwa.Event) bool) ucwa.Event {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var seen []string
	for time.Now().Before(deadline) {
		for len(s.pending) > 0 {
			e := s.pending[0]
			s.pending = s.pending[1:]
			seen = append(seen, e.Sender+">"+e.Link.Rel+":"+e.Type)
			if e.Sender == sender && e.Link.Rel == rel && e.Type == typ && (ok == nil || ok(e)) {
				return e
			}
		}
		s.pending = append(s.pending, s.poll().Events...)
	}
	s.t.Fatalf("no %s>%s:%s event; saw %s", sender, rel, typ, strings.Join(seen, " "))
	return ucwa.Event{}
}

// messageText decodes a message resource's text.
func messageText(t *testing.T, r *ucwa.Resource) string {
	t.Helper()
	href := r.Links.Href("plainMessage")
	if href == "" {
		href = r.Links.Href("htmlMessage")
	}
	_, text, err := ucwa.DecodeDataURI(href)
	if err != nil {
		t.Fatalf("message %s: %v", r.Self(), err)
	}
	return text
}

// asError returns err as *ucwa.Error or fails.
func asError(t *testing.T, err error) *ucwa.Error {
	t.Helper()
	var e *ucwa.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *ucwa.Error", err, err)
	}
	return e
}

// countRequests counts logged requests to rel.
func countRequests(sim *ucwasim.Server, rel string) int {
	n := 0
	for _, r := range sim.Requests() {
		if r.Rel == rel {
			n++
		}
	}
	return n
}

// drain polls until an empty batch, so that the next P-GET parks.
func (s *session) drain() {
	s.t.Helper()
	for range 20 {
		b := s.poll()
		s.pending = append(s.pending, b.Events...)
		if len(b.Events) == 0 {
			return
		}
	}
	s.t.Fatal("event channel never went quiet")
}
