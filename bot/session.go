package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/store"
	"golang.org/x/time/rate"

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
	wire   EventWire // the client's, unless WithEventWire put one between
	links  *linkCache
	tr     *translator

	// The stages after the poller: the state of the conversations this
	// lease tenure handled, and the group commit of handled entries.
	states   *stateCache
	commits  *committer
	inboxLen atomic.Int64 // the inbox length the last batch write returned
	// notifyLimit paces the notify API's requests taken by this instance.
	notifyLimit *rate.Limiter
	// persons caches the persons' state read in this lease tenure.
	persons personCache
	// transcripts serialises the transcript writes.
	transcripts transcripts
	// storedLinks are the conversation links the poller last wrote to the
	// inbox (poller goroutine only; see slimLinks).
	storedLinks map[string]uint64 // conversation → convLinks.sum
	// poisoned counts the fetches of an answer the poller could not take
	// (poller goroutine only).
	poisoned int
	// handoff holds what the poller stored for this process's workers.
	handoff handoff

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

	// What the poller did, for replayed sends (see responder.once and
	// waitPolledSince): when this lease tenure began, when the outstanding
	// P-GET was sent (zero when none), and a channel closed and replaced
	// at every change.
	tenureStart time.Time
	pgetSent    time.Time
	pollNote    chan struct{}
	// lastPGet is when the latest P-GET was sent; storedPGet when the one
	// whose batch was stored last was (see waitPolledSince).
	lastPGet, storedPGet time.Time

	// Lease and readiness (lease.go, status.go).
	leaseUntil   time.Time       // when the held lease expires by this instance's clock
	tenure       context.Context // the current lease tenure's context (nil: none)
	seenHolder   string          // the other instance holding the lease while standing by
	storeOK      time.Time       // when the store last answered the health probe
	storeErr     error           // the health probe's last error (nil after an answer)
	blocked      string          // why connecting waits at SlowRetry speed ("" when not)
	lastReplaced time.Time       // when the event channel was last taken (409 PGetReplaced)
}

func newAccount(e *Engine, cfg Account) (*account, error) {
	addr := normalizeAddress(cfg.Address)
	a := &account{e: e}
	c, err := ucwa.New(ucwa.Config{
		DiscoveryURL:   cfg.DiscoveryURL,
		TrustedHosts:   cfg.TrustedHosts,
		InsecureHTTP:   cfg.InsecureHTTP,
		CAFile:         cfg.CAFile,
		OnSecret:       cfg.OnSecret,
		Address:        addr,
		Username:       cfg.Username,
		Password:       cfg.Password,
		TokenSource:    cfg.TokenSource,
		UserAgent:      cfg.UserAgent,
		EndpointID:     cfg.EndpointID,
		HTTPClient:     e.hc,
		RequestTimeout: e.cfg.RequestTimeout,
		BeforeSend:     a.mayCall,
	})
	if err != nil {
		return nil, fmt.Errorf("bot: %s: %w", addr, err)
	}
	*a = account{
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

		notifyLimit: newNotifyLimiter(e.cfg),
	}
	a.wire = c
	if e.wire != nil {
		a.wire = e.wire(addr, c)
	}
	a.tr = newTranslator(addr, a.links, c.Get)
	a.states = newStateCache(stateCacheIdle)
	a.commits = &committer{a: a}
	a.handoff.max = int(e.cfg.InboxMax)
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
	var probe sync.WaitGroup
	probe.Add(1)
	go func() { defer probe.Done(); a.probeStore(ctx) }()
	defer probe.Wait()
	for ctx.Err() == nil {
		a.setState(stateStandby)
		l, sent, err := a.acquire(ctx)
		if err != nil {
			break
		}
		err = a.drive(ctx, l, sent)
		if errors.Is(err, errReplaced) {
			// A foreign client polls the application: never fight it.
			// Stopped and not ready for ReplacedCooldown, holding the lease
			// so that no other instance of this deployment starts fighting
			// either; then the lease is released and the account starts
			// over, so it does not stay dead once the other client is gone.
			a.setState(stateReplaced)
			a.e.met.alarms.WithLabelValues(a.addr, "pget_replaced").Inc()
			a.log.WithFields(logrus.Fields{"cause": "pget_replaced", "cooldown": a.e.cfg.ReplacedCooldown.String()}).
				Error("ALARM: another client polls this account's event channel; stopped, trying again after the cool-down")
			a.holdLease(ctx, a.e.cfg.ReplacedCooldown)
		}
	}
	a.setState(stateStopped)
}

// drive runs the account while it holds lease l (acquired by a request
// sent at sent). It returns when ctx ends (after a graceful goodbye), when
// the lease is lost, when an event batch could not be stored within the
// grace (errStoreDown: the caller stands by and drives the account again),
// or errReplaced when a foreign client took the event channel.
//
// The tenure's context (leaseCtx) is cancelled with errLeaseLost as soon
// as the lease is lost or expires by this instance's clock; every UCWA
// request checks the lease just before it is sent (mayCall).
func (a *account) drive(ctx context.Context, l store.Lease, sent time.Time) error {
	dctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The tenure outlives ctx (a graceful shutdown drains in-flight
	// handlers under it); it ends at once when the lease is lost.
	tenure, endTenure := context.WithCancelCause(context.WithoutCancel(ctx))
	defer endTenure(errTenureEnded)
	lost := func() {
		endTenure(errLeaseLost)
		cancel(errLeaseLost)
	}
	a.mu.Lock()
	a.lease, a.owner, a.leaseUntil, a.tenure, a.seenHolder = l, true, sent.Add(a.e.cfg.LeaseTTL), tenure, ""
	a.tenureStart, a.pgetSent, a.lastPoll = time.Now(), time.Time{}, time.Time{}
	a.stopDrive = lost
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.stopDrive, a.tenure = nil, nil
		a.mu.Unlock()
	}()
	a.e.met.leaseHolder.WithLabelValues(a.addr).Set(1)
	a.log.WithField("fence", l.Token).Info("lease acquired")

	leaseCtx, stopLease := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.renew(leaseCtx, lost)
	}()

	var runErr error
	var feed sync.WaitGroup
	for fed := false; ; {
		a.setState(stateConnect)
		href, err := a.establish(dctx)
		if err != nil {
			break
		}
		if !fed {
			fed = true
			feed.Add(1)
			go func() { defer feed.Done(); a.feed(dctx) }()
			feed.Add(1)
			go func() { defer feed.Done(); a.fireTimers(dctx) }()
		}
		// One channel round: keep-alive and the poll end together; the
		// inbox feed runs for the whole tenure.
		rctx, stopRound := context.WithCancel(dctx)
		kept := make(chan struct{})
		go func() { defer close(kept); a.keepAlive(rctx) }()
		a.setState(stateRunning)
		runErr = a.poll(rctx, href)
		stopRound()
		<-kept
		if errors.Is(runErr, errReplaced) && a.replacedByOwn() {
			a.e.met.reconnects.WithLabelValues(a.addr, "pget_replaced_own").Inc()
			a.log.WithField("cause", "pget_replaced").
				Warn("event channel taken while this instance holds a valid lease (a late P-GET of a former holder?); opening it again")
			runErr = nil
			continue
		}
		if runErr != nil {
			cancel(runErr)
		} else {
			cancel(nil)
		}
		break
	}
	feed.Wait()
	cause := context.Cause(dctx)
	if errors.Is(cause, errLeaseLost) {
		endTenure(cause) // the poller saw the lease move (ErrFenced, a new holder)
	}
	switch {
	case errors.Is(cause, errLeaseLost):
		a.setState(stateLeaseLost)
		a.log.WithError(cause).Error("lease lost: this instance stops driving the account")
		a.finish(a.e.q.dropAccount(a)...)
		a.waitInflight(ctx, a.e.cfg.DrainTimeout)
		a.clearInflight()
	case errors.Is(runErr, errReplaced):
		a.finish(a.e.q.dropAccount(a)...)
		a.clearInflight()
		stopLease()
		wg.Wait()
		a.mu.Lock()
		a.owner = false
		a.mu.Unlock()
		a.e.met.leaseHolder.WithLabelValues(a.addr).Set(0)
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

// replacedByOwn reports whether a 409 PGetReplaced is to be answered by
// polling again: this instance still holds a valid lease (the poller
// checked that the store names it) and the channel was not taken within
// ReplacedCooldown before. One of this deployment's own instances that
// lost the lease sends at most one late P-GET (mayCall stops the rest), so
// a second replacement within the cool-down is a foreign client.
func (a *account) replacedByOwn() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	first := a.lastReplaced.IsZero() || now.Sub(a.lastReplaced) >= a.e.cfg.ReplacedCooldown
	a.lastReplaced = now
	return first && a.owner && now.Before(a.leaseUntil)
}

// errTenureEnded ends a lease tenure's context after the account stopped
// driving (graceful shutdown after the drain, a stand-by, PGetReplaced).
var errTenureEnded = errors.New("lease tenure ended")

// leaseCtx returns the context of the current lease tenure: it is
// cancelled, with cause errLeaseLost, as soon as this instance loses the
// account's lease (the store says so, or it expires by this instance's
// clock), and with errTenureEnded once the account stopped driving after
// its drain. A graceful shutdown does not cancel it: in-flight handlers
// drain under it. Work done for the account — handlers, sends — should
// run on a context joined with it (underLease), so that an instance that
// lost the lease stops at once. Without a tenure it returns a context that
// is already cancelled.
func (a *account) leaseCtx() context.Context {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tenure != nil {
		return a.tenure
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errLeaseLost)
	return ctx
}

// underLease returns ctx joined with a lease tenure's context (leaseCtx):
// it ends when either does, with the tenure's cause (errLeaseLost) when
// the lease ended it. Call the CancelFunc when done.
func underLease(ctx, tenure context.Context) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(tenure, func() { cancel(context.Cause(tenure)) })
	return c, func() {
		stop()
		cancel(context.Canceled)
	}
}

// errNotHolder is a UCWA request stopped because this instance does not
// hold the account's lease (or it expired by this instance's clock).
var errNotHolder = fmt.Errorf("%w: this instance does not hold the account's lease", errLeaseLost)

// mayCall is the UCWA client's BeforeSend: a request for the account
// leaves only while this instance holds an unexpired lease.
func (a *account) mayCall(context.Context) error {
	a.mu.Lock()
	ok := a.owner && time.Now().Before(a.leaseUntil)
	a.mu.Unlock()
	if !ok {
		return errNotHolder
	}
	return nil
}

// goodbye is the graceful end: drain in-flight work, then either hand
// the application over (handover) or set presence, delete the
// application and forget the session; release the lease.
func (a *account) goodbye() {
	a.setState(stateDraining)
	if !a.waitInflight(context.Background(), a.e.cfg.DrainTimeout) {
		a.log.Warn("drain deadline passed; unhandled events stay in the inbox for the next start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if app, _ := a.currentApp(); app != nil && a.handover(ctx) {
		a.log.WithField("handover", a.e.cfg.Handover).Info("leaving the application and its event cursor to the next instance; open conversations go on")
	} else if app != nil {
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

// handover reports whether a graceful stop leaves the application to the
// next instance (Config.Handover). The stored session already holds the
// cursor of the last batch stored (the poller saves both in one write),
// and the P-GET in flight was never acknowledged, so the next holder
// polls on from there and the server redelivers what this one did not
// store.
func (a *account) handover(ctx context.Context) bool {
	switch a.e.cfg.Handover {
	case HandoverAlways:
		return true
	case HandoverNever:
		return false
	}
	return a.standbyPresent(ctx)
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
		a.log.WithField("step", "sign_in").Debug("signed in")
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
	a.log.WithFields(logrus.Fields{"step": "application_created", "application": app.URL}).Debug("application created")
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

// makeAvailable posts makeMeAvailable. When the server took it and only
// the read of the application after it failed (ucwa.ErrNotRefreshed), the
// bot is available: it logs that and succeeds, so the caller polls at once;
// the next reportMyActivity reads the missing links.
func (a *account) makeAvailable(ctx context.Context) error {
	app, _ := a.currentApp()
	err := a.client.MakeMeAvailable(ctx, app, ucwa.AvailabilityOptions{})
	if err != nil && !errors.Is(err, ucwa.ErrNotRefreshed) {
		return fmt.Errorf("makeMeAvailable: %w", err)
	}
	log := a.log.WithFields(logrus.Fields{"step": "available", "application": app.URL})
	if err != nil {
		log.WithError(err).Warn("makeMeAvailable accepted but the application could not be read again; polling now, its links are read with the next reportMyActivity")
	} else {
		log.Debug("available")
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
