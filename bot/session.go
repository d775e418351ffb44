package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/ucwa"
)

// Account states, as Status reports them.
const (
	stateIdle      = "idle"    // not started
	stateStandby   = "standby" // waiting for the lease (another instance drives the account)
	stateConnect   = "connecting"
	stateRunning   = "running"
	stateRecover   = "recovering"
	stateReplaced  = "replaced" // another client polls this application: stopped, never fighting
	stateDraining  = "draining"
	stateStopped   = "stopped"
	stateLeaseLost = "lease-lost"
)

var (
	// errLeaseLost cancels an account's work when its lease is gone.
	errLeaseLost = errors.New("lease lost")
	// errReplaced stops an account whose event channel another client took.
	errReplaced = errors.New("event channel taken by another client (409 PGetReplaced)")
	// errStoreDown stops driving an account whose event batch could not be
	// stored within the grace: it stands by and starts over.
	errStoreDown = errors.New("store unavailable: event batch not stored")
)

// account supervises one bot account: lease → application (resumed from
// the store's session record, or new) → makeMeAvailable → event loop and
// keep-alive, each failure with its own recovery.
type account struct {
	e      *Engine
	cfg    Account
	addr   string
	log    logrus.FieldLogger
	client *ucwa.Client
	links  *linkCache
	tr     *translator

	wake   chan struct{} // an in-flight event finished
	extend chan struct{} // the server warned a subscription expires
	resub  chan struct{} // subscriptions must be made again

	mu           sync.Mutex
	state        string
	app          *ucwa.Application
	appGen       int
	lease        store.Lease
	owner        bool
	lastPoll     time.Time
	lastActivity time.Time
	presence     string
	contacts     map[string]event.Presence
	extra        []string // contacts handlers asked to watch
	sub          *ucwa.Subscription
	subURIs      []string
	inflight     map[string]bool // inbox entry IDs handed to workers
	drained      chan struct{}   // closed when inflight becomes empty (nil: nobody waits)
	stopDrive    func()          // ends the current lease tenure as lease lost (nil: none)

	// sentMu orders the poller's "sent" marks and a replay's read of one
	// (responder.once), which sets the mark and gives it back: a mark the
	// poller set in between would be given back too.
	sentMu sync.Mutex

	// What this lease tenure's poller did, for replayed sends (see
	// responder.once): batches stored since the lease was acquired, when
	// the outstanding P-GET was sent (zero when none), and a channel
	// closed and replaced at every change.
	polled   int
	pgetSent time.Time
	pollNote chan struct{}
}

func newAccount(e *Engine, cfg Account) (*account, error) {
	addr := normalizeAddress(cfg.Address)
	c, err := ucwa.New(ucwa.Config{
		DiscoveryURL: cfg.DiscoveryURL,
		TrustedHosts: cfg.TrustedHosts,
		InsecureHTTP: cfg.InsecureHTTP,
		CAFile:       cfg.CAFile,
		OnSecret:     cfg.OnSecret,
		Address:      addr,
		Username:     cfg.Username,
		Password:     cfg.Password,
		TokenSource:  cfg.TokenSource,
		UserAgent:    cfg.UserAgent,
		EndpointID:   cfg.EndpointID,
		HTTPClient:   e.hc,
	})
	if err != nil {
		return nil, fmt.Errorf("bot: %s: %w", addr, err)
	}
	a := &account{
		e:        e,
		cfg:      cfg,
		addr:     addr,
		log:      e.log.WithField("account", addr),
		client:   c,
		links:    newLinkCache(),
		wake:     make(chan struct{}, 1),
		extend:   make(chan struct{}, 1),
		resub:    make(chan struct{}, 1),
		state:    stateIdle,
		contacts: map[string]event.Presence{},
		inflight: map[string]bool{},
		pollNote: make(chan struct{}),
	}
	a.tr = newTranslator(addr, a.links, c.Get)
	return a, nil
}

// leaseLost ends the current lease tenure, if any, as lease lost (a write
// was refused with ErrFenced).
func (a *account) leaseLost() {
	a.mu.Lock()
	stop := a.stopDrive
	a.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (a *account) setState(s string) {
	a.mu.Lock()
	a.state = s
	a.mu.Unlock()
	a.e.met.setState(a.addr, s)
}

func (a *account) getState() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

func (a *account) currentApp() (*ucwa.Application, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.app, a.appGen
}

func (a *account) fence() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lease.Token
}

// signal wakes a goroutine waiting on ch without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// run drives the account until ctx ends: it waits for the lease, drives
// the account while it holds it, and starts over when it loses it.
func (a *account) run(ctx context.Context) {
	for ctx.Err() == nil {
		a.setState(stateStandby)
		l, err := a.acquire(ctx)
		if err != nil {
			break
		}
		err = a.drive(ctx, l)
		if errors.Is(err, errReplaced) {
			// Never fight the other client: stay stopped and not ready
			// until shut down; the lease is kept so that no other
			// instance of this deployment starts fighting either.
			a.setState(stateReplaced)
			a.keepLease(ctx)
			break
		}
	}
	if a.getState() != stateReplaced {
		a.setState(stateStopped)
	}
}

// drive runs the account while it holds lease l. It returns when ctx ends
// (after a graceful goodbye), when the lease is lost, when an event batch
// could not be stored within the grace (errStoreDown: the caller stands by
// and drives the account again), or errReplaced.
func (a *account) drive(ctx context.Context, l store.Lease) error {
	dctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	a.mu.Lock()
	a.lease, a.owner = l, true
	a.polled, a.pgetSent, a.lastPoll = 0, time.Time{}, time.Time{}
	a.stopDrive = func() { cancel(errLeaseLost) }
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.stopDrive = nil
		a.mu.Unlock()
	}()
	a.e.met.leaseHolder.WithLabelValues(a.addr).Set(1)
	a.log.WithField("fence", l.Token).Info("lease acquired")

	leaseCtx, stopLease := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.renew(leaseCtx, func() { cancel(errLeaseLost) })
	}()

	a.setState(stateConnect)
	href, err := a.establish(dctx)
	var runErr error
	if err == nil {
		var bg sync.WaitGroup
		bg.Add(2)
		go func() { defer bg.Done(); a.feed(dctx) }()
		go func() { defer bg.Done(); a.keepAlive(dctx) }()
		a.setState(stateRunning)
		runErr = a.poll(dctx, href)
		if runErr != nil {
			cancel(runErr)
		} else {
			cancel(nil)
		}
		bg.Wait()
	}
	cause := context.Cause(dctx)
	switch {
	case errors.Is(cause, errLeaseLost):
		a.setState(stateLeaseLost)
		a.log.Error("lease lost: this instance stops driving the account")
		a.finish(a.e.q.dropAccount(a)...)
		a.waitInflight(ctx, a.e.cfg.DrainTimeout)
		a.clearInflight()
	case errors.Is(runErr, errReplaced):
		a.finish(a.e.q.dropAccount(a)...)
		a.clearInflight()
		stopLease()
		wg.Wait()
		return errReplaced
	case errors.Is(cause, errStoreDown) && ctx.Err() == nil:
		a.setState(stateStandby)
		a.log.WithError(cause).Error("store unavailable: this instance stands by and drives the account again when it can")
		a.finish(a.e.q.dropAccount(a)...)
		a.waitInflight(ctx, a.e.cfg.DrainTimeout)
		a.clearInflight()
	case ctx.Err() != nil && !a.e.abandon.Load():
		a.goodbye()
	}
	stopLease()
	wg.Wait()
	a.mu.Lock()
	a.owner = false
	a.mu.Unlock()
	a.e.met.leaseHolder.WithLabelValues(a.addr).Set(0)
	return cause
}

// goodbye is the graceful end: drain in-flight work, set presence, delete
// the application, forget the session and release the lease.
func (a *account) goodbye() {
	a.setState(stateDraining)
	if !a.waitInflight(context.Background(), a.e.cfg.DrainTimeout) {
		a.log.Warn("drain deadline passed; unhandled events stay in the inbox for the next start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if app, _ := a.currentApp(); app != nil {
		if err := a.client.SetMyPresence(ctx, app, "Away"); err != nil {
			a.log.WithError(err).Debug("set presence at shutdown")
		}
		if err := a.client.DeleteApplication(ctx, app); err != nil {
			a.log.WithError(err).Warn("delete application at shutdown")
		}
		if err := a.e.store.SaveSession(ctx, a.addr, a.fence(), store.Session{EndpointID: a.cfg.EndpointID, Updated: time.Now()}); err != nil {
			a.log.WithError(err).Warn("clear session at shutdown")
		}
	}
	a.mu.Lock()
	l := a.lease
	a.mu.Unlock()
	if err := a.e.store.ReleaseLease(ctx, l); err != nil {
		a.log.WithError(err).Warn("release lease")
	}
}

// establish gets the account an application: the stored session's one
// when the server still has it, else a new one. It retries until it
// succeeds or ctx ends and returns the href of the next P-GET.
func (a *account) establish(ctx context.Context) (string, error) {
	var href string
	err := a.retry(ctx, "connect", func() error {
		if err := a.client.SignIn(ctx); err != nil {
			return fmt.Errorf("sign in: %w", err)
		}
		sess, err := a.e.store.LoadSession(ctx, a.addr)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("load session: %w", err)
		}
		if err == nil && sess.ApplicationURL != "" && sess.EndpointID == a.cfg.EndpointID {
			h, err := a.resume(ctx, sess)
			if err == nil {
				href = h
				return nil
			}
			if !errors.Is(err, ucwa.ErrApplicationGone) {
				return err
			}
			a.log.WithError(err).Info("stored application is gone; creating a new one")
		}
		h, err := a.newApplication(ctx)
		href = h
		return err
	})
	return href, err
}

// resume reopens the stored application (restart or takeover).
func (a *account) resume(ctx context.Context, sess store.Session) (string, error) {
	app, err := a.client.OpenApplication(ctx, sess.ApplicationURL)
	if err != nil {
		return "", err
	}
	a.setApp(app)
	a.tr.reset()
	avail, err := a.client.MyPresence(ctx, app)
	if err != nil && !errors.Is(err, ucwa.ErrMakeMeAvailableRequired) {
		return "", err
	}
	if err != nil || avail == "Away" || avail == "Offline" || avail == "" {
		if err := a.makeAvailable(ctx); err != nil {
			return "", err
		}
	}
	a.e.met.reconnects.WithLabelValues(a.addr, "resumed").Inc()
	a.log.WithField("application", sess.ApplicationURL).Info("resumed the stored application")
	signal(a.resub)
	href := sess.EventsURL
	if href == "" {
		href = app.EventsURL
	}
	return href, nil
}

// newApplication creates an application, makes the bot available and
// records the session. Conversations and subscriptions of an earlier
// application are gone with it.
func (a *account) newApplication(ctx context.Context) (string, error) {
	app, err := a.client.CreateApplication(ctx)
	if err != nil {
		return "", fmt.Errorf("create application: %w", err)
	}
	a.setApp(app)
	a.tr.reset()
	a.mu.Lock()
	a.sub = nil
	a.mu.Unlock()
	if err := a.makeAvailable(ctx); err != nil {
		return "", err
	}
	if err := a.saveSession(ctx, app.EventsURL); err != nil {
		return "", err
	}
	a.log.WithField("application", app.URL).Info("application created")
	signal(a.resub)
	return app.EventsURL, nil
}

func (a *account) setApp(app *ucwa.Application) {
	a.mu.Lock()
	a.app = app
	a.appGen++
	a.mu.Unlock()
}

func (a *account) makeAvailable(ctx context.Context) error {
	app, _ := a.currentApp()
	if err := a.client.MakeMeAvailable(ctx, app, ucwa.AvailabilityOptions{}); err != nil {
		return fmt.Errorf("makeMeAvailable: %w", err)
	}
	a.mu.Lock()
	a.lastActivity = time.Now()
	a.presence = "Online"
	a.mu.Unlock()
	a.e.met.lastActivity.WithLabelValues(a.addr).SetToCurrentTime()
	return nil
}

func (a *account) saveSession(ctx context.Context, eventsURL string) error {
	app, _ := a.currentApp()
	start := time.Now()
	err := a.e.store.SaveSession(ctx, a.addr, a.fence(), store.Session{
		ApplicationURL: app.URL,
		EventsURL:      eventsURL,
		EndpointID:     a.cfg.EndpointID,
		Updated:        time.Now(),
	})
	a.e.met.storeLatency.WithLabelValues("save_session").Observe(time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}
