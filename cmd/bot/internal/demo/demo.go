// Package demo is `bot demo`: the built-in UCWA simulator, a bot signed in to
// it with the example rules and the embedded store, and a short scene played
// through it and printed as a transcript. On a terminal the scene is followed
// by an interactive mode in which the user acts as the people.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/console"
	"github.com/ucwabot/ucwabot/plugins"
	"github.com/ucwabot/ucwabot/rules"
	"github.com/ucwabot/ucwabot/store/boltstore"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// Options configure a demo run.
type Options struct {
	// Out receives the transcript.
	Out io.Writer
	// In is read for commands when Interactive is set.
	In io.Reader
	// Interactive continues after the scene with commands read from In
	// until it ends or the context is cancelled.
	Interactive bool
	// RulesName and Rules are the rules file the bot runs.
	RulesName string
	Rules     []byte
	// Log receives the engine's log lines; nil discards them.
	Log io.Writer
	// Quiet is how long the transcript waits without a new event before it
	// takes a step as finished.
	Quiet time.Duration
	// Web serves the web console at WebListen (127.0.0.1:0 when empty)
	// and prints its URL; the demo then runs until ctx ends instead of
	// playing the scene.
	Web       bool
	WebListen string
	// WebReady, when not nil, receives the console's URL once it serves.
	WebReady func(url string)
}

// The cast. The bot signs in with a password like a real bot account; the
// people are scripted through the simulator.
const (
	botURI      = "sip:helpdesk@contoso.com"
	botPassword = "demo-password"
)

var people = []struct{ uri, name string }{
	{"sip:alice@contoso.com", "Alice Lee"},
	{"sip:bob@contoso.com", "Bob Kim"},
	{"sip:carol@contoso.com", "Carol Diaz"},
	{"sip:dave@contoso.com", "Dave Ng"},
}

// Run plays the demo and returns when the scene (and, if enabled, the
// interactive session) is over.
func Run(ctx context.Context, o Options) error {
	if o.Quiet == 0 {
		o.Quiet = 200 * time.Millisecond
	}
	sim, err := ucwasim.New(ucwasim.Options{Domain: "contoso.com"})
	if err != nil {
		return fmt.Errorf("start simulator: %w", err)
	}
	defer sim.Close()
	if err := sim.AddUser(botURI, botPassword, "Helpdesk"); err != nil {
		return err
	}
	for _, p := range people {
		if err := sim.AddUser(p.uri, "", p.name); err != nil {
			return err
		}
	}
	// The engineers are online; Carol does not answer the bot's
	// invitations, so the scene's supervisor request escalates to Dave.
	for _, e := range []string{"sip:carol@contoso.com", "sip:dave@contoso.com"} {
		if err := sim.SetPresence(e, "Online"); err != nil {
			return err
		}
	}
	sim.SetAutoAccept("sip:carol@contoso.com", false)

	dir, err := os.MkdirTemp("", "ucwabot-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := boltstore.Open(filepath.Join(dir, "state.db"), boltstore.Options{})
	if err != nil {
		return fmt.Errorf("open embedded store: %w", err)
	}
	defer st.Close()

	src, err := console.NewMemoryRules(rules.Options{Build: plugins.Default.Build}, o.RulesName, o.Rules)
	if err != nil {
		return err
	}
	defer src.Close()

	log := logrus.New()
	log.SetOutput(io.Discard)
	if o.Log != nil {
		log.SetOutput(o.Log)
	}
	tr := newTranscript(o.Out, sim)
	reg := prometheus.NewRegistry()
	hub := console.NewHub(0)
	eng, err := bot.New(bot.Config{
		Accounts: []bot.Account{{
			Address:      botURI,
			DiscoveryURL: sim.DiscoveryURL(),
			InsecureHTTP: true, // the in-process simulator speaks plain http
			Password:     botPassword,
		}},
		PollTimeout:  30 * time.Second,
		DrainTimeout: 5 * time.Second,
	}, bot.WithStore(st), bot.WithRules(src), bot.WithLogger(log), bot.WithObserver(tr),
		bot.WithRegisterer(reg), bot.WithTracer(hub))
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- eng.Run(runCtx) }()

	fmt.Fprintf(o.Out, "ucwabot demo: a bot (%s) signed in to the built-in UCWA simulator at %s,\n", botURI, sim.URL())
	fmt.Fprintf(o.Out, "running the rules of %s over an embedded store.\n\n", o.RulesName)
	if err := waitReady(ctx, eng, done); err != nil {
		return err
	}
	if o.Web {
		err := serveWeb(runCtx, o, sim, eng, reg, hub, src)
		stop()
		if runErr := <-done; runErr != nil && !errors.Is(runErr, context.Canceled) && err == nil {
			err = runErr
		}
		return err
	}
	pending := func() int {
		n := 0
		for _, st := range eng.Status() {
			n += st.QueueDepth
		}
		return n
	}
	sc := &scene{sim: sim, tr: tr, quiet: o.Quiet, pending: pending}
	err = sc.play(ctx)
	if err == nil && o.Interactive {
		err = sc.interact(ctx, o.In)
	}
	stop()
	if runErr := <-done; runErr != nil && !errors.Is(runErr, context.Canceled) && err == nil {
		err = runErr
	}
	return err
}

// waitReady waits until the engine has signed in and polls its events.
func waitReady(ctx context.Context, eng *bot.Engine, done <-chan error) error {
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if eng.Ready() == nil {
			return nil
		}
		select {
		case err := <-done:
			return fmt.Errorf("the bot stopped before it was ready: %v", err)
		case <-deadline:
			return fmt.Errorf("the bot was not ready within 20s: %v", eng.Ready())
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
