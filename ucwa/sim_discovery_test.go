package ucwa_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/ucwa"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

func TestClient_rediscovers_only_when_the_docs_say_so(t *testing.T) {
	sim := startSim(t)
	s := available(t, sim)
	ctx := ctxT(t)
	roots := func() int { return countRequests(sim, "root") }
	if n := roots(); n != 1 {
		t.Fatalf("%d root requests for the first sign-in", n)
	}
	// signIn signs in again and reports whether it went through the lyncdiscover root.
	signIn := func(step string) bool {
		t.Helper()
		before, tokens := roots(), countRequests(sim, "token")
		if err := s.c.SignIn(ctx); err != nil {
			t.Fatalf("%s: sign in: %v", step, err)
		}
		if countRequests(sim, "token") == tokens {
			t.Fatalf("%s: sign in without a new token", step)
		}
		if s.c.NeedsRediscovery() {
			t.Fatalf("%s: still needs rediscovery after signing in", step)
		}
		if err := s.c.ReportMyActivity(ctx, s.app); err != nil {
			t.Fatalf("%s: after sign in: %v", step, err)
		}
		return roots() > before
	}

	// The applications href is cached: a plain SignIn renews the token only.
	if signIn("cached") {
		t.Fatal("SignIn rediscovered with a good cached applications href")
	}
	// Errors the docs do not list keep the cache, and so does a 403 InvalidToken that the
	// token retry cured.
	for _, f := range []ucwasim.Fault{
		{Status: http.StatusConflict, Subcode: "MakeMeAvailableRequired"},
		{Status: http.StatusInternalServerError},
		{Status: http.StatusServiceUnavailable},
		{Status: http.StatusForbidden, Subcode: "InvalidToken"},
	} {
		f.Rel = "reportMyActivity"
		sim.Inject(f)
		_ = s.c.ReportMyActivity(ctx, s.app)
		if s.c.NeedsRediscovery() || signIn(http.StatusText(f.Status)+" "+f.Subcode) {
			t.Fatalf("%d %s: rediscovered", f.Status, f.Subcode)
		}
	}
	// 403 and 502 (PROTOCOL.md §2.1 step 5): the next SignIn starts at the root.
	for _, f := range []ucwasim.Fault{
		{Status: http.StatusForbidden},
		{Status: http.StatusBadGateway, HTML: true},
		{Status: http.StatusForbidden, Subcode: "InvalidToken", Times: 2},
	} {
		f.Rel = "reportMyActivity"
		sim.Inject(f)
		if err := s.c.ReportMyActivity(ctx, s.app); err == nil {
			t.Fatalf("%d: no error", f.Status)
		}
		if !s.c.NeedsRediscovery() {
			t.Fatalf("%d %s: no rediscovery due", f.Status, f.Subcode)
		}
		if !signIn(http.StatusText(f.Status) + " " + f.Subcode) {
			t.Fatalf("%d %s: SignIn did not go through discovery", f.Status, f.Subcode)
		}
	}
	// Persistent connection failures: three requests in a row without an answer.
	sim.Inject(ucwasim.Fault{Rel: "reportMyActivity", Drop: true, Times: 3})
	for i := 1; i <= 3; i++ {
		if err := s.c.ReportMyActivity(ctx, s.app); err == nil || !ucwa.IsTransient(err) {
			t.Fatalf("drop %d: err = %v", i, err)
		}
		if due := s.c.NeedsRediscovery(); due != (i == 3) {
			t.Fatalf("after %d dropped connections NeedsRediscovery = %v", i, due)
		}
	}
	if !signIn("dropped connections") {
		t.Fatal("SignIn did not go through discovery after persistent connection failures")
	}
	// One dropped connection between answers is not persistent.
	sim.Inject(ucwasim.Fault{Rel: "reportMyActivity", Drop: true, Times: 2})
	_ = s.c.ReportMyActivity(ctx, s.app)
	_ = s.c.ReportMyActivity(ctx, s.app)
	if err := s.c.ReportMyActivity(ctx, s.app); err != nil {
		t.Fatal(err)
	}
	sim.Inject(ucwasim.Fault{Rel: "reportMyActivity", Drop: true})
	_ = s.c.ReportMyActivity(ctx, s.app)
	if s.c.NeedsRediscovery() {
		t.Fatal("rediscovery due after failures that an answer interrupted")
	}
	// Explicit rediscovery (sign-out) always goes to the root.
	before := roots()
	if err := s.c.Rediscover(ctx); err != nil || roots() != before+1 {
		t.Fatalf("Rediscover: %v, %d root requests", err, roots()-before)
	}
	// A failed rediscovery leaves it due.
	sim.Inject(ucwasim.Fault{Rel: "root", Status: http.StatusServiceUnavailable})
	if err := s.c.Rediscover(ctx); !errors.Is(err, ucwa.ErrDiscovery) || !s.c.NeedsRediscovery() {
		t.Fatalf("failed Rediscover: %v, due %v", err, s.c.NeedsRediscovery())
	}
	if !signIn("after a failed rediscovery") {
		t.Fatal("SignIn did not retry discovery")
	}
}

func TestClient_request_gives_up_at_the_deadline_not_after_the_delay(t *testing.T) {
	sim := startSim(t)
	s := available(t, sim)
	const delay = 10 * time.Second
	check := func(t *testing.T, err error, start time.Time) {
		t.Helper()
		var ue *ucwa.Error
		if !errors.Is(err, context.DeadlineExceeded) || !ucwa.IsTransient(err) || errors.As(err, &ue) {
			t.Fatalf("err = %v (%T), want a transient deadline error", err, err)
		}
		if took := time.Since(start); took >= delay {
			t.Fatalf("gave up after %s, not at the deadline", took)
		}
	}
	t.Run("context deadline", func(t *testing.T) {
		sim.Inject(ucwasim.Fault{Rel: "reportMyActivity", Delay: delay})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		check(t, s.c.ReportMyActivity(ctx, s.app), start)
	})
	t.Run("Config.RequestTimeout", func(t *testing.T) {
		c, err := ucwa.New(ucwa.Config{DiscoveryURL: sim.DiscoveryURL(), InsecureHTTP: true, Address: botURI, Password: botPW,
			EndpointID: "ep-" + t.Name(), RequestTimeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		sim.Inject(ucwasim.Fault{Rel: "root", Delay: delay})
		start := time.Now()
		err = c.SignIn(ctx)
		if !errors.Is(err, ucwa.ErrDiscovery) {
			t.Fatalf("sign in through a delayed root: %v", err)
		}
		check(t, err, start)
		if err := c.SignIn(ctx); err != nil {
			t.Fatal(err)
		}
		sim.Inject(ucwasim.Fault{Rel: "applications", Delay: delay})
		start = time.Now()
		_, err = c.CreateApplication(ctx)
		check(t, err, start)
		// The P-GET is not bound by RequestTimeout: a 1 s P-GET outlives it.
		app, err := c.CreateApplication(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.MakeMeAvailable(ctx, app, ucwa.AvailabilityOptions{}); err != nil {
			t.Fatal(err)
		}
		next := app.EventsURL
		for range 10 {
			b, err := c.Poll(ctx, next, time.Second)
			if err != nil {
				t.Fatalf("poll: %v", err)
			}
			if len(b.Events) == 0 {
				return // an empty batch: the P-GET parked its full second
			}
			next = b.Continue()
		}
		t.Fatal("event channel never went quiet")
	})
}

func TestClient_renews_the_token_before_it_expires(t *testing.T) {
	const life = 2 * time.Second
	sim, err := ucwasim.New(ucwasim.Options{TokenLifetime: life})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	if err := sim.AddUser(botURI, botPW, "Bot"); err != nil {
		t.Fatal(err)
	}
	s := available(t, sim)
	ctx := ctxT(t)
	first, err := s.c.TokenSource().Token()
	if err != nil {
		t.Fatal(err)
	}
	tokens := countRequests(sim, "token")
	// Keep working across several lifetimes, one request every 100 ms.
	seen := map[string]bool{first.AccessToken: true}
	for end := time.Now().Add(3*life + life/2); time.Now().Before(end); {
		if err := s.c.ReportMyActivity(ctx, s.app); err != nil {
			t.Fatal(err)
		}
		tok, err := s.c.TokenSource().Token()
		if err != nil {
			t.Fatal(err)
		}
		if !tok.Expiry.IsZero() && time.Until(tok.Expiry) <= 0 {
			t.Fatalf("token handed out after its expiry %s", tok.Expiry)
		}
		seen[tok.AccessToken] = true
		time.Sleep(100 * time.Millisecond)
	}
	if n := countRequests(sim, "token") - tokens; n < 3 {
		t.Fatalf("%d token requests over 3.5 lifetimes, want at least 3", n)
	}
	if len(seen) < 4 {
		t.Fatalf("%d distinct tokens used", len(seen))
	}
	for _, r := range sim.Requests() {
		if r.Status == http.StatusUnauthorized && r.Rel != "user" {
			t.Fatalf("the server refused an expired token: %+v", r)
		}
	}
}
