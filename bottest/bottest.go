// Package bottest runs a real bot for plugin tests: the engine, signed in
// to an in-process UCWA simulator, with an embedded store in a temporary
// directory and rules given as YAML. People are scripted through the
// simulator; assertions wait for the bot's replies and state.
//
//	func TestShout(t *testing.T) {
//		b := bottest.New(t, bottest.Rules(`
//	rules:
//	  - name: shout
//	    on: [message.received]
//	    do:
//	      - shout: {suffix: "!"}
//	`))
//		c := b.Invite("sip:alice@contoso.com", "hello")
//		c.ExpectReply("HELLO!")
//		c.Say("again")
//		c.ExpectReply("AGAIN!")
//	}
//
// People are scripted through the simulator: Bot.Invite starts a
// conversation (the bot sees invitation.received, then the first message),
// Conv.Say and Conv.SayAs write (message.received), Conv.Join and
// Conv.Leave add and remove people (participant.joined, participant.left),
// Conv.HangUp ends it and Bot.SetPresence changes a person's presence
// (presence.changed when the bot is subscribed). Assertions wait for the
// bot: Conv.ExpectReply, ExpectNoReply, ExpectTranscript, ExpectState,
// ExpectStatus (declined, left), ExpectParticipant (invited),
// Bot.ExpectConversationWith (a conversation the bot started),
// Bot.ExpectError and ExpectNoErrors.
//
// Without a bot, MessageEvent, JoinEvent, LeaveEvent and InvitationEvent
// build events and Fired says which rules of a set they set off.
//
// Everything a Bot starts is stopped by t.Cleanup. It works with
// *testing.T and *testing.B.
package bottest

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot"
	"github.com/ucwabot/ucwabot/plugins"
	"github.com/ucwabot/ucwabot/rules"
	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/boltstore"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// BotURI is the SIP URI of the bot account a Bot signs in as.
const BotURI = "sip:bot@contoso.com"

const botPassword = "bottest-bot-password"

// Option configures a Bot.
type Option func(*options)

type options struct {
	rules      string
	ruleFiles  []string
	registry   *plugins.Registry
	scale      float64
	wait       time.Duration
	subscribe  []string
	people     map[string]string
	logger     logrus.FieldLogger
	configure  []func(*bot.Config)
	simOptions func(*ucwasim.Options)
}

// Rules sets the bot's rules file, as YAML (default: no rules).
func Rules(yaml string) Option { return func(o *options) { o.rules = yaml } }

// RulesFiles runs the bot on the rules files (or directories) at paths
// through a rules.Reloader, as the service does: Bot.Reloader reloads them,
// and a reload that fails keeps the running rules.
func RulesFiles(paths ...string) Option { return func(o *options) { o.ruleFiles = paths } }

// Registry builds the rules' plugins from r instead of plugins.Default.
func Registry(r *plugins.Registry) Option { return func(o *options) { o.registry = r } }

// TimeScale sets the simulator's simulated seconds per real second
// (default 20): the server's clock rules (activity, subscriptions,
// undelivered messages) run that much faster.
func TimeScale(f float64) Option { return func(o *options) { o.scale = f } }

// Wait sets how long assertions wait for the bot (default 10s).
func Wait(d time.Duration) Option { return func(o *options) { o.wait = d } }

// Subscribe makes the bot watch the presence of uris from the start.
func Subscribe(uris ...string) Option {
	return func(o *options) { o.subscribe = append(o.subscribe, uris...) }
}

// Person adds a person with a display name (people are otherwise added on
// first use, named after their URI: sip:alice@… is "Alice").
func Person(uri, name string) Option { return func(o *options) { o.people[uri] = name } }

// Logger sets the engine's logger (default: warnings and errors, written
// with t.Log).
func Logger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// Configure changes the engine's config before the bot starts.
func Configure(fn func(*bot.Config)) Option {
	return func(o *options) { o.configure = append(o.configure, fn) }
}

// SimOptions changes the simulator's options before it starts.
func SimOptions(fn func(*ucwasim.Options)) Option { return func(o *options) { o.simOptions = fn } }

// Bot is a running bot wired to a simulator. Its fields are the parts,
// for tests that need more than the helpers.
type Bot struct {
	// Sim is the UCWA simulator the bot is signed in to.
	Sim *ucwasim.Server
	// Store is the bot's embedded store.
	Store store.Store
	// Engine is the running engine.
	Engine *bot.Engine
	// Rules is the rule set loaded at start.
	Rules *rules.Set
	// Reloader serves the rules when the bot runs on files (RulesFiles);
	// nil otherwise.
	Reloader *rules.Reloader

	t      testing.TB
	wait   time.Duration
	obs    *observer
	mu     sync.Mutex
	people map[string]bool
	named  map[string]string
}

// New starts a bot and waits until it is signed in and polling; it fails
// the test when the rules do not load or the bot does not start.
func New(t testing.TB, opts ...Option) *Bot {
	t.Helper()
	o := options{scale: 20, wait: 10 * time.Second, people: map[string]string{}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.registry == nil {
		o.registry = plugins.Default
	}
	b := &Bot{t: t, wait: o.wait, obs: newObserver(), people: map[string]bool{}, named: o.people}
	var provider bot.RuleSource
	if len(o.ruleFiles) > 0 {
		r, err := rules.NewReloader(rules.Options{Build: o.registry.Build}, nil, o.ruleFiles...)
		if err != nil {
			t.Fatalf("bottest: rules: %v", err)
		}
		r.CloseDelay = time.Second
		t.Cleanup(func() { _ = r.Current().Close() })
		b.Reloader, b.Rules, provider = r, r.Current(), r
	} else {
		set, err := LoadRules(o.registry, o.rules)
		if err != nil {
			t.Fatalf("bottest: rules: %v", err)
		}
		t.Cleanup(func() { _ = set.Close() })
		b.Rules, provider = set, staticRules{set}
	}

	so := ucwasim.Options{TimeScale: o.scale}
	if o.simOptions != nil {
		o.simOptions(&so)
	}
	sim, err := ucwasim.New(so)
	if err != nil {
		t.Fatalf("bottest: simulator: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	b.Sim = sim
	if err := sim.AddUser(BotURI, botPassword, "Bot"); err != nil {
		t.Fatalf("bottest: %v", err)
	}
	for uri := range o.people {
		b.person(uri)
	}
	for _, uri := range o.subscribe {
		b.person(uri)
	}

	st, err := boltstore.Open(filepath.Join(t.TempDir(), "bot.db"), boltstore.Options{})
	if err != nil {
		t.Fatalf("bottest: store: %v", err)
	}
	b.Store = st

	cfg := bot.Config{
		Accounts: []bot.Account{{
			Address: BotURI, DiscoveryURL: sim.DiscoveryURL(), InsecureHTTP: true, Password: botPassword, Subscribe: o.subscribe,
		}},
		Workers:          4,
		QueueSize:        64,
		HandlerTimeout:   5 * time.Second,
		ActivityInterval: time.Duration(float64(time.Minute) / o.scale),
		LeaseTTL:         time.Second,
		DrainTimeout:     3 * time.Second,
		BackoffMax:       200 * time.Millisecond,
		ServerTimeScale:  o.scale,
	}
	for _, fn := range o.configure {
		fn(&cfg)
	}
	log := o.logger
	if log == nil {
		l := logrus.New()
		l.SetLevel(logrus.WarnLevel)
		l.SetOutput(testWriter{t})
		log = l
	}
	e, err := bot.New(cfg, bot.WithStore(st), bot.WithRules(provider), bot.WithObserver(b.obs), bot.WithLogger(log))
	if err != nil {
		_ = st.Close()
		t.Fatalf("bottest: engine: %v", err)
	}
	b.Engine = e
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("bottest: engine stopped: %v", err)
		}
		_ = st.Close()
	})
	b.waitReady(done)
	return b
}

// LoadRules loads a rules file given as YAML, named rules.yaml in errors,
// building its plugins from reg (nil: plugins.Default); it is what New
// uses, for tests of rule loading itself.
func LoadRules(reg *plugins.Registry, yaml string) (*rules.Set, error) {
	if reg == nil {
		reg = plugins.Default
	}
	if strings.TrimSpace(yaml) == "" {
		yaml = "rules: []\n"
	}
	return rules.LoadBytes(rules.Options{Build: reg.Build}, "rules.yaml", []byte(yaml))
}

type staticRules struct{ set *rules.Set }

func (s staticRules) Current() *rules.Set { return s.set }

func (b *Bot) waitReady(done chan error) {
	b.t.Helper()
	deadline := time.Now().Add(b.wait)
	for {
		err := b.Engine.Ready()
		if err == nil {
			return
		}
		select {
		case rerr := <-done:
			done <- rerr
			b.t.Fatalf("bottest: engine stopped before it was ready: %v", rerr)
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("bottest: bot not ready after %s: %v", b.wait, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// person adds uri to the simulator once.
func (b *Bot) person(uri string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.people[uri] {
		return
	}
	name := b.named[uri]
	if name == "" {
		name = nameOf(uri)
	}
	if err := b.Sim.AddUser(uri, "pw-"+uri, name); err != nil {
		b.t.Fatalf("bottest: add %s: %v", uri, err)
	}
	b.people[uri] = true
}

// nameOf makes a display name from a SIP URI: sip:alice@… is "Alice".
func nameOf(uri string) string {
	user, _, _ := strings.Cut(strings.TrimPrefix(uri, "sip:"), "@")
	if user == "" {
		return uri
	}
	return strings.ToUpper(user[:1]) + user[1:]
}

// SetPresence sets a person's availability in the simulator (Online,
// Busy, Away, ...). A bot subscribed to the person gets a presence event.
func (b *Bot) SetPresence(uri, availability string) {
	b.t.Helper()
	b.person(uri)
	if err := b.Sim.SetPresence(uri, availability); err != nil {
		b.t.Fatalf("bottest: presence of %s: %v", uri, err)
	}
}

// ExpectPresence waits until the bot has handled a presence event saying
// uri is availability, so that handlers see it.
func (b *Bot) ExpectPresence(uri, availability string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("presence of %s to be %s", uri, availability), func() bool {
		return b.obs.presence(uri) == availability
	}, func() string { return b.obs.describe() })
}

// Invite makes the person from invite the bot to an IM conversation with
// text as the first message, and returns the conversation.
func (b *Bot) Invite(from, text string) *Conv {
	b.t.Helper()
	b.person(from)
	sc, err := b.Sim.Invite(from, BotURI, text)
	if err != nil {
		b.t.Fatalf("bottest: %s invites the bot: %v", from, err)
	}
	c := &Conv{b: b, sim: sc, from: from}
	if text != "" {
		c.said = 1
	}
	return c
}

// Sent returns every text the bot sent, in any conversation, in order.
func (b *Bot) Sent() []string {
	var out []string
	for _, m := range b.Sim.Sent(BotURI) {
		out = append(out, m.Text)
	}
	return out
}

// Conversations returns the conversations the simulator holds for the
// bot, including those the bot started (forwarding, for example).
func (b *Bot) Conversations() []*Conv {
	var out []*Conv
	for _, sc := range b.Sim.Conversations(BotURI) {
		out = append(out, &Conv{b: b, sim: sc})
	}
	return out
}

// ExpectConversationWith waits until the bot has a conversation, other
// than those in skip, that the person uri is in and the bot said
// something in (one the bot started to forward a message, for example),
// and returns it; its Say and HangUp act as uri. The bot can reach only
// people the simulator knows: add uri with Person (or SetPresence)
// before the bot calls them.
func (b *Bot) ExpectConversationWith(uri string, skip ...*Conv) *Conv {
	b.t.Helper()
	var found *ucwasim.Conversation
	b.waitFor("a conversation with "+uri, func() bool {
		for _, sc := range b.Sim.Conversations(BotURI) {
			if slices.ContainsFunc(skip, func(c *Conv) bool { return c.sim.ID() == sc.ID() }) {
				continue
			}
			if !slices.ContainsFunc(sc.Participants(), func(p string) bool { return strings.EqualFold(p, uri) }) {
				continue
			}
			if slices.ContainsFunc(sc.Transcript(), func(m ucwasim.Message) bool { return isBot(m.From) }) {
				found = sc
				return true
			}
		}
		return false
	}, func() string {
		b.mu.Lock()
		known := b.people[uri]
		b.mu.Unlock()
		if !known {
			return " (" + uri + " is not a person of the simulator: add it with Person)" + b.obs.describe()
		}
		return b.obs.describe()
	})
	return &Conv{b: b, sim: found, from: uri}
}

// ExpectError waits until a handler or rule returns an error whose text
// contains part.
func (b *Bot) ExpectError(part string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("an error containing %q", part), func() bool {
		return slices.ContainsFunc(b.Errors(), func(err error) bool { return strings.Contains(err.Error(), part) })
	}, b.obs.describe)
}

// ExpectNoErrors fails the test when a handler or rule returned an error
// for an event handled so far; Conv.Wait first makes sure the messages
// said are among them (a reply is seen before its event is done).
func (b *Bot) ExpectNoErrors() {
	b.t.Helper()
	if errs := b.Errors(); len(errs) > 0 {
		b.t.Fatalf("bottest: handler errors: %v%s", errs, b.obs.describe())
	}
}

// Errors returns the errors handlers and rules returned so far.
func (b *Bot) Errors() []error { return b.obs.errors() }

// Eventually waits until cond holds, failing the test with what when the
// bot's wait passes first.
func (b *Bot) Eventually(what string, cond func() bool) {
	b.t.Helper()
	b.waitFor(what, cond, b.obs.describe)
}

// waitFor polls cond until it holds or the wait passes; then it fails the
// test with what and describe().
func (b *Bot) waitFor(what string, cond func() bool, describe func() string) {
	b.t.Helper()
	deadline := time.Now().Add(b.wait)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("bottest: timed out after %s waiting for %s%s", b.wait, what, describe())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
