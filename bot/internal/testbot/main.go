// Command testbot is a small bot the engine's tests start as a separate
// process, to kill it with SIGKILL in the middle of its work and start it
// again. It answers every message with "echo: <text>" after a delay.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot"
	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/plugins"
	"github.com/ucwabot/ucwabot/rules"
	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/boltstore"
	"github.com/ucwabot/ucwabot/store/redisstore"
)

const rulesYAML = `
rules:
  - name: echo
    on: [message.received]
    do:
      - echo: {}
`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testbot:", err)
		os.Exit(1)
	}
}

func run() error {
	discovery := flag.String("discovery", "", "lyncdiscover URL of the simulator")
	address := flag.String("address", "sip:bot@contoso.com", "bot account")
	password := flag.String("password", "", "bot password")
	boltPath := flag.String("bolt", "", "embedded store file")
	redisURL := flag.String("redis", "", "Redis URL (instead of -bolt)")
	prefix := flag.String("prefix", "", "Redis key prefix")
	instance := flag.String("instance", "", "instance id")
	delay := flag.Duration("delay", 200*time.Millisecond, "handler delay")
	leaseTTL := flag.Duration("lease", 2*time.Second, "lease TTL")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var st store.Store
	var err error
	if *redisURL != "" {
		st, err = redisstore.Open(ctx, *redisURL, redisstore.Options{Prefix: *prefix, Consumer: *instance})
	} else {
		st, err = boltstore.Open(*boltPath, boltstore.Options{})
	}
	if err != nil {
		return err
	}
	defer st.Close()

	reg := plugins.NewRegistry()
	reg.Register("echo", plugins.Define(func(struct{}) (handlers.Handler, error) {
		return handlers.HandlerFunc(func(ctx context.Context, req *handlers.Request) error {
			select {
			case <-time.After(*delay):
			case <-ctx.Done():
				return ctx.Err()
			}
			return req.Reply.Say(ctx, "echo: "+req.Event.Message.Text)
		}), nil
	}))
	set, err := rules.LoadBytes(rules.Options{Build: reg.Build}, "testbot.yaml", []byte(rulesYAML))
	if err != nil {
		return err
	}
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetLevel(logrus.InfoLevel)
	log.WithField("pid", os.Getpid()).Info("testbot starting")
	eng, err := bot.New(bot.Config{
		Accounts:     []bot.Account{{Address: *address, DiscoveryURL: *discovery, InsecureHTTP: true, Password: *password}},
		Workers:      2,
		PollTimeout:  3 * time.Second,
		LeaseTTL:     *leaseTTL,
		DrainTimeout: 2 * time.Second,
		BackoffMax:   300 * time.Millisecond,
		InstanceID:   *instance,
	}, bot.WithStore(st), bot.WithRules(fixed{set}), bot.WithLogger(log.WithField("instance", *instance)))
	if err != nil {
		return err
	}
	return eng.Run(ctx)
}

type fixed struct{ set *rules.Set }

func (f fixed) Current() *rules.Set { return f.set }
