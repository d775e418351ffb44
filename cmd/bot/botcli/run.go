package botcli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sirupsen/logrus"
	"go.yaml.in/yaml/v3"

	"github.com/ucwabot/ucwabot/bot"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/config"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/console"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/logging"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/ops"
	"github.com/ucwabot/ucwabot/rules"
	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/boltstore"
	"github.com/ucwabot/ucwabot/store/redisstore"
)

func runCommand() *command {
	var path, playground string
	return &command{
		name: "run",
		summary: `Run the service: sign the configured bot accounts in, keep them available,
answer their conversations by the rules, and serve /healthz, /readyz, /metrics
and the admin API. Settings come from the config file (docs/config.md) and
UCWABOT_* environment variables, which override it. SIGHUP reloads the rules.
The web console is served under /console/ with the admin API's checks.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&path, "config", "bot.yaml", "the `FILE` to read the configuration from")
			fs.StringVar(&playground, "playground", "", "`URL` of a simulator run by `bot sim`: the web console's playground acts as its people, and edited rules can be applied")
		},
		run: func(ctx context.Context, stdio Stdio, fs *flag.FlagSet) error {
			if fs.NArg() > 0 {
				return usagef("takes no arguments")
			}
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			return serveWith(ctx, stdio, cfg, playground)
		},
	}
}

// serve wires the store, the rules, the engine and the HTTP server from
// cfg and runs them until ctx is done.
func serve(ctx context.Context, stdio Stdio, cfg *config.Config) error {
	return serveWith(ctx, stdio, cfg, "")
}

// serveWith is serve with the web console's playground driving the
// simulator at playground ("" for none).
func serveWith(ctx context.Context, stdio Stdio, cfg *config.Config, playground string) error {
	log, redactor, err := logging.New(stdio.Err, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return err
	}
	bcfg, token, err := engineConfig(cfg, redactor)
	if err != nil {
		return err
	}
	for _, a := range bcfg.Accounts {
		if a.InsecureHTTP {
			log.WithField("account", a.Address).Warn("accounts[].insecure_http is set: this account may sign in over plain http; use it with a simulator only (docs/security.md)")
		}
	}
	redactor.Add(redisstore.URLSecrets(cfg.Store.URL)...)
	redisstore.SetLogger(log.WithField("component", "go-redis"))

	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfo())

	reloader, err := rules.NewReloader(serviceRuleOptions(cfg.Webhooks.AllowedHosts, redactor), log, cfg.Rules...)
	if err != nil {
		return err
	}
	// The set in force at exit, not the first one: each replaced set is
	// closed by the reloader.
	defer func() { _ = reloader.Current().Close() }()

	hub := console.NewHub(0)
	eng, err := bot.New(bcfg,
		bot.WithStore(st),
		bot.WithRules(reloader),
		bot.WithLogger(log),
		bot.WithRegisterer(reg),
		bot.WithTracer(hub),
	)
	if err != nil {
		return err
	}
	reg.MustRegister(ops.NewRuleCollector(ruleAdmin{reloader}.Rules))

	l, err := ops.Listen(cfg.HTTP.Listen, token)
	if err != nil {
		return err
	}
	h := ops.Handler(ops.Options{
		Ready:         eng.Ready,
		Gatherer:      reg,
		Rules:         ruleAdmin{reloader},
		Conversations: conversationAdmin{eng},
		Notify:        notifyAdmin{eng},
		Transcripts:   transcriptAdmin{eng},
		Token:         token,
		Logger:        log,

		Listen:                    l.Addr().String(),
		AllowedHosts:              cfg.Admin.AllowedHosts,
		AllowLoopbackWithoutToken: cfg.Admin.AllowLoopbackWithoutToken,
		Console:                   consoleHandler(ctx, cfg, bcfg, playground, hub, eng, reg, reloader, redactor, log),
	})
	log.WithField("listen", l.Addr().String()).Info("serving /healthz, /readyz, /metrics, /admin/, /api/v1/ and the web console at /console/")

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The HTTP server is how the service is watched: when it fails, the
	// service stops rather than run unobserved. A failed file watch leaves
	// SIGHUP and the admin API to reload the rules.
	serveErr := make(chan error, 1)
	go func() {
		<-ctx.Done()
		hub.Close() // open console streams end, so the server shuts down at once
	}()
	go func() {
		err := ops.Serve(ctx, l, h)
		if err != nil && !errors.Is(err, context.Canceled) {
			log.WithError(err).Error("HTTP server failed; stopping")
			cancel()
		}
		serveErr <- err
	}()
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		if err := reloader.Watch(ctx); err != nil {
			log.WithError(err).Error("watching the rules files failed; reload with SIGHUP or POST /admin/rules/reload")
		}
	}()
	go reloadOnHangup(ctx, reloader, log)

	runErr := eng.Run(ctx)
	cancel()
	<-watchDone
	if err := <-serveErr; err != nil && !errors.Is(err, context.Canceled) && runErr == nil {
		runErr = err
	}
	if errors.Is(runErr, context.Canceled) {
		runErr = nil
	}
	return runErr
}

// reloadOnHangup reloads the rules on every SIGHUP. A failed reload keeps
// the running rules; the reloader logs and counts it.
func reloadOnHangup(ctx context.Context, r *rules.Reloader, log logrus.FieldLogger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			log.Info("SIGHUP: reloading rules")
			_, _ = r.Reload()
		}
	}
}

// engineConfig turns the file's settings into the engine's, reading the
// secrets and registering them with the log redactor. It also returns the
// admin token.
func engineConfig(cfg *config.Config, redactor *logging.Redactor) (bot.Config, string, error) {
	token, err := cfg.AdminToken(getenv)
	if err != nil {
		return bot.Config{}, "", err
	}
	redactor.Add(token)
	bc := bot.Config{
		Workers:              cfg.Engine.Workers,
		QueueSize:            cfg.Engine.QueueSize,
		HandlerTimeout:       cfg.Engine.HandlerTimeout,
		DrainTimeout:         cfg.Engine.DrainTimeout,
		LeaseTTL:             cfg.Engine.LeaseTTL,
		InstanceID:           cfg.Engine.InstanceID,
		Shadow:               cfg.Engine.Shadow,
		Handover:             cfg.Engine.Handover,
		NotifyRate:           cfg.Engine.NotifyRate,
		PersonTTL:            cfg.Engine.PersonTTL,
		IdleAfter:            cfg.Engine.IdleAfter,
		TranscriptRetention:  cfg.Transcripts.Retention,
		TranscriptMax:        cfg.Transcripts.MaxEntries,
		NotifyBurst:          cfg.Engine.NotifyBurst,
		BackoffMax:           cfg.Engine.Backoff.Max,
		BackoffInitial:       cfg.Engine.Backoff.Initial,
		BackoffMultiplier:    cfg.Engine.Backoff.Multiplier,
		BackoffJitter:        cfg.Engine.Backoff.Jitter,
		ActivityInterval:     cfg.KeepAlive.ActivityInterval,
		SubscriptionDuration: cfg.KeepAlive.SubscriptionDuration,
		PollTimeout:          cfg.KeepAlive.PollTimeout,
	}
	if err := cfg.CAFiles(); err != nil {
		return bot.Config{}, "", err
	}
	for i, a := range cfg.Accounts {
		pw, err := cfg.Password(i, getenv)
		if err != nil {
			return bot.Config{}, "", err
		}
		redactor.Add(pw)
		bc.Accounts = append(bc.Accounts, bot.Account{
			Address:      a.Address,
			DiscoveryURL: a.DiscoveryURL,
			TrustedHosts: a.TrustedHosts,
			InsecureHTTP: a.InsecureHTTP,
			CAFile:       a.CAFile,
			OnSecret:     func(s string) { redactor.Add(s) },
			Username:     a.Username,
			Password:     pw,
			UserAgent:    a.UserAgent,
			EndpointID:   a.EndpointID,
			Subscribe:    a.Subscribe,
		})
	}
	if err := bc.Validate(); err != nil {
		return bot.Config{}, "", err
	}
	return bc, token, nil
}

// serviceRuleOptions are ruleOptions with the service's policy on what the
// rules build: a handler that posts to a URL (the webhook) must name a
// host of webhooks.allowed_hosts when the list is set, and every secret a
// handler holds is registered with the log redactor.
func serviceRuleOptions(allowed []string, redactor *logging.Redactor) rules.Options {
	o := ruleOptions()
	build := o.Build
	o.Build = func(plugin string, params *yaml.Node) (any, error) {
		inst, err := build(plugin, params)
		if err != nil {
			return nil, err
		}
		if s, ok := inst.(interface{ Secrets() []string }); ok {
			redactor.Add(s.Secrets()...)
		}
		if t, ok := inst.(interface{ URL() string }); ok && len(allowed) > 0 {
			u, err := url.Parse(t.URL())
			if err != nil || !hostAllowed(u.Hostname(), allowed) {
				host := ""
				if u != nil {
					host = u.Hostname()
				}
				return nil, fmt.Errorf("url host %q is not in webhooks.allowed_hosts (%s)", host, strings.Join(allowed, ", "))
			}
		}
		return inst, nil
	}
	return o
}

// hostAllowed reports whether host is one of allowed, where "*.example.com"
// matches every subdomain of example.com.
func hostAllowed(host string, allowed []string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSuffix(a, "."))
		if sub, ok := strings.CutPrefix(a, "*."); ok {
			if strings.HasSuffix(host, "."+sub) {
				return true
			}
		} else if host == a {
			return true
		}
	}
	return false
}

// storeDialTimeout bounds how long bot run waits for Redis to answer at
// start: a store URL that points nowhere fails the start within it.
const storeDialTimeout = 5 * time.Second

// openStore opens Redis when a URL is configured, else the embedded store
// (which creates its directory, 0700, when it is missing). Its
// errors name the key and where it was set; a Redis URL appears with its
// password hidden.
func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	c := cfg.Store
	if c.URL != "" {
		fail := func(format string, args ...any) error {
			return &config.FieldError{Pos: cfg.Pos("store.url"), Key: "store.url",
				Msg: fmt.Sprintf("Redis at %q ", redisstore.RedactURL(c.URL)) + fmt.Sprintf(format, args...)}
		}
		ctx, cancel := context.WithTimeout(ctx, storeDialTimeout)
		defer cancel()
		// go-redis bounds each attempt by its own timeouts and retries, not
		// by ctx: the wait for the first answer is bounded here.
		type opened struct {
			s   *redisstore.Store
			err error
		}
		ch := make(chan opened, 1)
		go func() {
			s, err := redisstore.Open(ctx, c.URL, redisstore.Options{Prefix: c.Prefix})
			ch <- opened{s, err}
		}()
		select {
		case r := <-ch:
			if r.err != nil {
				if ctx.Err() != nil {
					return nil, fail("did not answer within %s: %v", storeDialTimeout, r.err)
				}
				return nil, fail("does not answer: %v", r.err)
			}
			return r.s, nil
		case <-ctx.Done():
			go func() {
				if r := <-ch; r.s != nil {
					_ = r.s.Close()
				}
			}()
			return nil, fail("did not answer within %s", storeDialTimeout)
		}
	}
	key := "store.path"
	s, err := boltstore.Open(c.Path, boltstore.Options{})
	if err != nil {
		return nil, &config.FieldError{Pos: cfg.Pos(key), Key: key, Msg: err.Error()}
	}
	return s, nil
}
