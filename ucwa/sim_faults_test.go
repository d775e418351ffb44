package ucwa_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/ucwa"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

func TestClient_reauthenticates_transparently_on_401(t *testing.T) {
	sim := startSim(t)
	s := available(t, sim)
	ctx := ctxT(t)
	old, _ := s.c.TokenSource().Token()
	tokens := countRequests(sim, "token")
	sim.RevokeTokens(botURI)
	if err := s.c.ReportMyActivity(ctx, s.app); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if n := countRequests(sim, "token"); n != tokens+1 {
		t.Fatalf("%d token requests, want 1", n-tokens)
	}
	if tok, _ := s.c.TokenSource().Token(); tok.AccessToken == old.AccessToken {
		t.Fatal("token not replaced")
	}
	// The event channel too: same href, new token.
	sim.RevokeTokens(botURI)
	s.poll()
	// An injected 401 (with a challenge) is retried once as well.
	sim.Inject(ucwasim.Fault{Rel: "reportMyActivity", Status: http.StatusUnauthorized})
	if err := s.c.ReportMyActivity(ctx, s.app); err != nil {
		t.Fatal(err)
	}
	// Twice in a row is reported.
	sim.Inject(ucwasim.Fault{Rel: "reportMyActivity", Status: http.StatusUnauthorized, Times: 2})
	err := s.c.ReportMyActivity(ctx, s.app)
	if !errors.Is(err, ucwa.ErrUnauthorized) || asError(t, err).Status != http.StatusUnauthorized {
		t.Fatalf("err = %v", err)
	}
}

func TestClient_403_InvalidToken_is_retried_once(t *testing.T) {
	sim := startSim(t)
	s := available(t, sim)
	ctx := ctxT(t)
	sim.Inject(ucwasim.Fault{Rel: "reportMyActivity", Status: http.StatusForbidden, Subcode: "InvalidToken"})
	if err := s.c.ReportMyActivity(ctx, s.app); err != nil {
		t.Fatalf("one InvalidToken: %v", err)
	}
	sim.Inject(ucwasim.Fault{Rel: "reportMyActivity", Status: http.StatusForbidden, Subcode: "InvalidToken", Times: 2})
	err := s.c.ReportMyActivity(ctx, s.app)
	if !errors.Is(err, ucwa.ErrUnauthorized) || asError(t, err).Status != http.StatusForbidden {
		t.Fatalf("err = %v", err)
	}
	// A 403 for another reason is not a token problem and is not retried.
	before := countRequests(sim, "reportMyActivity")
	sim.Inject(ucwasim.Fault{Rel: "reportMyActivity", Status: http.StatusForbidden})
	err = s.c.ReportMyActivity(ctx, s.app)
	if errors.Is(err, ucwa.ErrUnauthorized) || countRequests(sim, "reportMyActivity") != before+1 {
		t.Fatalf("plain 403: %v", err)
	}
}

func TestClient_application_gone(t *testing.T) {
	t.Run("404 ApplicationNotFound", func(t *testing.T) {
		sim := startSim(t)
		s := available(t, sim)
		sim.KillApplication(botURI)
		err := s.c.ReportMyActivity(ctxT(t), s.app)
		if !errors.Is(err, ucwa.ErrApplicationGone) || asError(t, err).Status != http.StatusNotFound {
			t.Fatalf("err = %v", err)
		}
		_, err = s.c.Poll(ctxT(t), s.next, time.Second)
		if !errors.Is(err, ucwa.ErrApplicationGone) || ucwa.IsTransient(err) {
			t.Fatalf("poll: %v", err)
		}
		if err := s.c.Refresh(ctxT(t), s.app); !errors.Is(err, ucwa.ErrApplicationGone) {
			t.Fatalf("refresh: %v", err)
		}
	})
	t.Run("410 InactiveApplicationExpired", func(t *testing.T) {
		sim := startSim(t)
		s := available(t, sim)
		sim.ExpireApplication(botURI)
		_, err := s.c.Poll(ctxT(t), s.next, time.Second)
		e := asError(t, err)
		if !errors.Is(err, ucwa.ErrApplicationGone) || e.Status != http.StatusGone || e.Subcode != "InactiveApplicationExpired" {
			t.Fatalf("err = %v", err)
		}
		// Recovery: a new application on the same client.
		app, err := s.c.CreateApplication(ctxT(t))
		if err != nil || app.URL == s.app.URL {
			t.Fatalf("recreate: %v %+v", err, app)
		}
	})
}

func TestClient_409s(t *testing.T) {
	sim := startSim(t)
	s := available(t, sim)
	ctx := ctxT(t)
	sim.Inject(ucwasim.Fault{Rel: "reportMyActivity", Status: http.StatusConflict, Subcode: "MakeMeAvailableRequired"})
	err := s.c.ReportMyActivity(ctx, s.app)
	if !errors.Is(err, ucwa.ErrMakeMeAvailableRequired) || errors.Is(err, ucwa.ErrPGetReplaced) {
		t.Fatalf("err = %v", err)
	}

	// A real replacement: of two P-GETs with the same ack, the later one releases the
	// earlier with 409 PGetReplaced (whichever reaches the server first).
	s.drain()
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := s.c.Poll(ctx, s.next, 2*time.Second)
			errs <- err
		}()
	}
	var replaced, ok int
	for range 2 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case errors.Is(err, ucwa.ErrPGetReplaced) && !ucwa.IsTransient(err):
			replaced++
		default:
			t.Fatalf("poll: %v", err)
		}
	}
	if replaced != 1 || ok != 1 {
		t.Fatalf("%d replaced, %d answered", replaced, ok)
	}
}

func TestClient_throttling_proxy_pages_and_dropped_connections(t *testing.T) {
	sim := startSim(t)
	s := available(t, sim)
	ctx := ctxT(t)
	cases := []struct {
		name      string
		fault     ucwasim.Fault
		throttled bool
		notUCWA   bool
		retry     time.Duration
	}{
		{"429 with Retry-After", ucwasim.Fault{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second}, true, false, 2 * time.Second},
		{"503 with Retry-After", ucwasim.Fault{Status: http.StatusServiceUnavailable, RetryAfter: 5 * time.Second}, true, false, 5 * time.Second},
		{"503 without Retry-After", ucwasim.Fault{Status: http.StatusServiceUnavailable}, false, false, 0},
		{"500 ServiceFailure", ucwasim.Fault{Status: http.StatusInternalServerError, Subcode: "CallbackChannelError"}, false, false, 0},
		{"HTML proxy 502", ucwasim.Fault{Status: http.StatusBadGateway, HTML: true}, false, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fault.Rel = "reportMyActivity"
			sim.Inject(c.fault)
			err := s.c.ReportMyActivity(ctx, s.app)
			e := asError(t, err)
			if e.Status != c.fault.Status || errors.Is(err, ucwa.ErrThrottled) != c.throttled ||
				e.NotUCWA != c.notUCWA || e.RetryAfter != c.retry || !ucwa.IsTransient(err) {
				t.Fatalf("err = %v (%+v)", err, e)
			}
			if c.notUCWA && (e.Code != "" || e.Message == "") {
				t.Errorf("proxy page read as %+v", e)
			}
			if err := s.c.ReportMyActivity(ctx, s.app); err != nil {
				t.Fatalf("next request: %v", err)
			}
		})
	}
	t.Run("dropped connection", func(t *testing.T) {
		sim.Inject(ucwasim.Fault{Rel: "reportMyActivity", Drop: true})
		err := s.c.ReportMyActivity(ctx, s.app)
		var ue *ucwa.Error
		if err == nil || errors.As(err, &ue) || !ucwa.IsTransient(err) {
			t.Fatalf("err = %v", err)
		}
		if err := s.c.ReportMyActivity(ctx, s.app); err != nil {
			t.Fatalf("next request: %v", err)
		}
	})
	t.Run("dropped P-GET", func(t *testing.T) {
		// Go's transport may itself retry a GET once on a reused connection: drop two.
		sim.Inject(ucwasim.Fault{Rel: "events", Drop: true, Times: 2})
		_, err := s.c.Poll(ctx, s.next, time.Second)
		if err == nil || !ucwa.IsTransient(err) {
			t.Fatalf("err = %v", err)
		}
		for range 2 { // the same href works afterwards
			if _, err = s.c.Poll(ctx, s.next, time.Second); err == nil {
				return
			}
			if !ucwa.IsTransient(err) {
				t.Fatal(err)
			}
		}
		t.Fatalf("P-GET after the drops: %v", err)
	})
}

func TestClient_resync_and_resume(t *testing.T) {
	sim := startSim(t)
	s := available(t, sim)
	s.drain()
	sim.ForceResync(botURI)
	b := s.poll()
	if b.Resync == "" || b.Continue() != b.Resync || len(b.Events) != 0 {
		t.Fatalf("resync batch %+v", b)
	}
	s.poll()
	sim.ForceResume(botURI)
	b = s.poll()
	if b.Resume == "" || b.Continue() != b.Resume {
		t.Fatalf("resume batch %+v", b)
	}
	s.poll()
}

func TestClient_concurrent_requests_share_one_new_token(t *testing.T) {
	sim := startSim(t)
	s := available(t, sim)
	ctx := ctxT(t)
	tokens := countRequests(sim, "token")
	sim.RevokeTokens(botURI)
	errs := make(chan error, 8)
	for range 8 {
		go func() { errs <- s.c.ReportMyActivity(ctx, s.app) }()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := countRequests(sim, "token") - tokens; n != 1 {
		t.Fatalf("%d token requests, want 1", n)
	}
}
