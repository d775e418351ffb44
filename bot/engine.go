package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/rules"
	"github.com/ucwabot/ucwabot/store"
)

// RuleSource gives the rule set in force; *rules.Reloader satisfies it.
// Current is called once per event and may return a different set after a
// reload.
type RuleSource interface {
	Current() *rules.Set
}

// Observer is told about every handled event, with the names of the
// rules that fired and the first error (a test hook). It is called from
// worker goroutines, concurrently for different conversations.
type Observer interface {
	EventHandled(ev event.Event, fired []string, err error)
}

// Option sets what code, not configuration, gives the engine.
type Option func(*Engine)

// WithStore sets the store (required).
func WithStore(s store.Store) Option { return func(e *Engine) { e.store = s } }

// WithRules sets the rule source (required).
func WithRules(src RuleSource) Option { return func(e *Engine) { e.rules = src } }

// WithLogger sets the logger (default: a logger that discards).
func WithLogger(l logrus.FieldLogger) Option { return func(e *Engine) { e.log = l } }

// WithHTTPClient sets the HTTP client of the UCWA clients.
func WithHTTPClient(c *http.Client) Option { return func(e *Engine) { e.hc = c } }

// WithRegisterer registers the engine's metrics (nil: none).
func WithRegisterer(r prometheus.Registerer) Option { return func(e *Engine) { e.reg = r } }

// WithObserver sets a hook told about every handled event.
func WithObserver(o Observer) Option { return func(e *Engine) { e.obs = o } }

// Engine drives the configured bot accounts. Create it with New and run
// it with Run; Ready, Status and the admin methods may be called from
// other goroutines while it runs.
type Engine struct {
	cfg    Config
	store  store.Store
	rules  RuleSource
	log    logrus.FieldLogger
	hc     *http.Client
	reg    prometheus.Registerer
	obs    Observer
	tracer Tracer
	wire   func(account string, next EventWire) EventWire
	met    *metrics
	// runners run the handler calls while Run runs (nil: not yet).
	runners atomic.Pointer[runners]

	accounts []*account
	q        *queue

	mu       sync.Mutex
	running  bool
	draining bool

	// abandon makes shutdown skip the goodbye to the server and the
	// store, as a crash would (tests of restart and takeover).
	abandon atomic.Bool
}

// New checks the configuration and returns an engine ready to Run.
func New(cfg Config, opts ...Option) (*Engine, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, q: newQueue()}
	for _, o := range opts {
		o(e)
	}
	if e.store == nil {
		return nil, errors.New("bot: no store (WithStore)")
	}
	if e.rules == nil {
		return nil, errors.New("bot: no rules (WithRules)")
	}
	if e.log == nil {
		l := logrus.New()
		l.Out = discard{}
		e.log = l
	}
	met, err := newMetrics(e.reg)
	if err != nil {
		return nil, fmt.Errorf("bot: metrics: %w", err)
	}
	e.met = met
	// The engine keeps no password: each account's UCWA client has its
	// own, and the engine's copy of the configuration goes without.
	e.cfg.Accounts = slices.Clone(cfg.Accounts)
	for i, a := range cfg.Accounts {
		acct, err := newAccount(e, a)
		if err != nil {
			return nil, err
		}
		acct.cfg.Password = ""
		e.cfg.Accounts[i].Password = ""
		e.accounts = append(e.accounts, acct)
	}
	return e, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// runHandler runs f, a handler call, on a goroutine of its own.
func (e *Engine) runHandler(f func()) {
	if r := e.runners.Load(); r != nil {
		r.run(f)
		return
	}
	go f()
}

// Run drives every account until ctx ends, then shuts down gracefully:
// it stops polling and accepting invitations, lets in-flight work finish
// within DrainTimeout, sets the bots' presence, deletes their
// applications and releases their leases. It returns nil after a clean
// shutdown.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.running {
		e.mu.Unlock()
		return errors.New("bot: Run called twice")
	}
	e.running = true
	e.mu.Unlock()

	// Workers outlive intake so that in-flight work can drain.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	e.runners.Store(newRunners(workCtx))
	var workers sync.WaitGroup
	for i := 0; i < e.cfg.Workers; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			e.work(workCtx)
		}()
	}

	var accts sync.WaitGroup
	for _, a := range e.accounts {
		accts.Add(1)
		go func() {
			defer accts.Done()
			a.run(ctx)
		}()
	}
	<-ctx.Done()
	e.mu.Lock()
	e.draining = true
	e.mu.Unlock()
	e.log.Info("shutting down: intake stopped, draining")

	// Accounts stop polling at once; each waits for its in-flight events
	// up to the drain deadline, then says goodbye to the server.
	accts.Wait()
	e.q.close()
	stopWork()
	workers.Wait()
	e.log.Info("shut down")
	return nil
}

// isDraining reports whether shutdown began: new invitations are declined.
func (e *Engine) isDraining() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.draining
}

// Ready returns nil when every account holds its lease, polled recently
// and the store answers; otherwise an error saying why.
func (e *Engine) Ready() error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := e.store.Ping(ctx); err != nil {
		errs = append(errs, fmt.Errorf("store unreachable: %w", err))
	}
	for _, a := range e.accounts {
		if err := a.ready(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.addr, err))
		}
	}
	return errors.Join(errs...)
}

// AccountStatus is what Status tells about one account.
type AccountStatus struct {
	Address       string
	State         string
	Owner         bool // this instance holds the account's lease
	LastPoll      time.Time
	LastActivity  time.Time // last successful reportMyActivity
	Presence      string    // the bot's own availability as last read
	Subscriptions int       // contacts with a live presence subscription
	QueueDepth    int       // events read from the inbox, not yet handled
	Conversations int       // conversations with known links
}

// Status describes every account.
func (e *Engine) Status() []AccountStatus {
	out := make([]AccountStatus, 0, len(e.accounts))
	for _, a := range e.accounts {
		out = append(out, a.status())
	}
	return out
}

// ConversationInfo is one conversation with state, for the admin API.
type ConversationInfo struct {
	Account string
	ID      string
	// State holds the conversation's fields as stored (JSON values).
	State map[string]json.RawMessage
}

// Conversations lists the conversations with state of every account.
func (e *Engine) Conversations(ctx context.Context) ([]ConversationInfo, error) {
	var out []ConversationInfo
	for _, a := range e.accounts {
		ids, err := e.store.Conversations(ctx, a.addr)
		if err != nil {
			return nil, fmt.Errorf("bot: conversations of %s: %w", a.addr, err)
		}
		for _, id := range ids {
			f, err := e.store.LoadState(ctx, a.addr, id)
			if err != nil {
				return nil, fmt.Errorf("bot: state of %s %s: %w", a.addr, id, err)
			}
			out = append(out, ConversationInfo{Account: a.addr, ID: id, State: f})
		}
	}
	return out, nil
}

// ErrUnknownAccount: the account is not one the engine drives.
var ErrUnknownAccount = errors.New("bot: unknown account")

// accountFor returns the account named (in any form of its address);
// "" names the only account of an engine that drives one.
func (e *Engine) accountFor(account string) (*account, error) {
	if account == "" && len(e.accounts) == 1 {
		return e.accounts[0], nil
	}
	for _, a := range e.accounts {
		if account != "" && strings.EqualFold(a.addr, normalizeAddress(account)) {
			return a, nil
		}
	}
	if account == "" {
		return nil, fmt.Errorf("%w: name the account, this bot drives %d", ErrUnknownAccount, len(e.accounts))
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownAccount, account)
}

// DropConversation forgets a conversation's state and links.
func (e *Engine) DropConversation(ctx context.Context, account, id string) error {
	a, err := e.accountFor(account)
	if err != nil || account == "" {
		return fmt.Errorf("%w: %q", ErrUnknownAccount, account)
	}
	a.links.remove(id)
	a.states.drop(id)
	if err := e.store.DeleteState(ctx, a.addr, id); err != nil {
		return fmt.Errorf("bot: drop %s %s: %w", a.addr, id, err)
	}
	return nil
}

func (e *Engine) timeScale() float64 {
	if e.cfg.ServerTimeScale <= 0 {
		return 1
	}
	return e.cfg.ServerTimeScale
}
