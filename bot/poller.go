package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/ucwa"
)

// poll runs the event channel from href until ctx ends. It never waits on
// handlers: each batch is translated, written durably to the inbox, and
// only then acknowledged by the next P-GET. It returns errReplaced when
// another client took the channel, an error wrapping errLeaseLost when the
// lease was lost, one wrapping errStoreDown when a batch could not be
// stored within the grace, and nil when ctx ended.
func (a *account) poll(ctx context.Context, href string) error {
	b := a.e.newBackoff()
	bb := a.e.newBackoff() // batches that could not be translated
	for ctx.Err() == nil {
		if !a.backpressure(ctx) {
			return nil
		}
		start := time.Now()
		a.notePoll(start, false)
		batch, err := a.wire.Poll(ctx, href, a.e.cfg.PollTimeout)
		a.notePoll(time.Time{}, false)
		a.e.met.pollLatency.WithLabelValues(a.addr).Observe(time.Since(start).Seconds())
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			next, rerr := a.recoverPoll(ctx, b, href, err)
			if rerr != nil {
				return rerr
			}
			href = next
			continue
		}
		b.Reset()
		if a.poisoned > 0 {
			a.poisoned = 0
			a.setBlocked("")
		}
		a.mu.Lock()
		a.lastPoll = time.Now()
		a.mu.Unlock()
		a.e.met.lastPoll.WithLabelValues(a.addr).SetToCurrentTime()
		next, err := a.batch(ctx, batch)
		if err != nil {
			// The ack did not move: the same P-GET is sent again, here or
			// by the next holder of the lease.
			switch {
			case errors.Is(err, store.ErrFenced):
				return fmt.Errorf("%w: %w", errLeaseLost, err)
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, errFetch):
				a.e.met.reconnects.WithLabelValues(a.addr, "fetch").Inc()
				a.log.WithError(err).Warn("event channel: a resource of the batch could not be read; retrying the same P-GET")
				if !sleep(ctx, bb.NextBackOff()) {
					return nil
				}
				continue
			default:
				a.e.met.storeErrors.WithLabelValues("batch").Inc()
				a.log.WithError(err).Error("event channel: the batch could not be stored within the grace; standing by with the ack unmoved")
				return fmt.Errorf("%w: %w", errStoreDown, err)
			}
		}
		bb.Reset()
		href = next
	}
	return nil
}

// poisonTries is how many times the same answer that cannot be taken is
// fetched before its events are given up.
const poisonTries = 3

// recoverPoll applies the recovery a failed P-GET asks for and returns
// the href to P-GET next.
func (a *account) recoverPoll(ctx context.Context, b interface{ NextBackOff() time.Duration }, href string, err error) (string, error) {
	cause := causeOf(err)
	a.e.met.reconnects.WithLabelValues(a.addr, cause).Inc()
	log := a.log.WithError(err).WithField("cause", cause)
	switch {
	case errors.Is(err, ucwa.ErrPGetReplaced):
		// The lease's new holder (a takeover this instance has not noticed
		// yet) is no foreign client: stand by instead of raising an alarm.
		l, lerr := a.leaseHolder(ctx)
		if lerr != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			// Whether a new holder of the lease or a foreign client took
			// the channel cannot be told while the store does not answer:
			// stand by (the lease is tried again) rather than stop.
			log.WithField("lookup", lerr.Error()).Warn("event channel taken over and the lease holder cannot be read; standing by")
			return "", fmt.Errorf("%w: lease holder unknown: %w", errLeaseLost, lerr)
		}
		if l.Owner != a.e.cfg.InstanceID || l.Token != a.fence() {
			log.Warn("event channel taken over by the account's new lease holder; standing by")
			return "", errLeaseLost
		}
		// This instance holds the lease: the caller tells a late P-GET of
		// one of this deployment's instances from a foreign client.
		log.Warn("event channel taken over while this instance holds the lease")
		return "", errReplaced
	case errors.Is(err, ucwa.ErrUnauthorized):
		log.Warn("event channel: token refused; signing in again")
		a.setState(stateRecover)
		if serr := a.client.SignIn(ctx); serr != nil {
			log.WithError(serr).Warn("sign in")
			sleep(ctx, b.NextBackOff())
		}
	case errors.Is(err, ucwa.ErrApplicationGone):
		log.Warn("event channel: application gone; creating a new one")
		a.setState(stateRecover)
		var next string
		rerr := a.retry(ctx, "recreate application", func() error {
			if err := a.client.SignIn(ctx); err != nil {
				return err
			}
			h, err := a.newApplication(ctx)
			next = h
			return err
		})
		if rerr != nil {
			return href, nil
		}
		a.setState(stateRunning)
		return next, nil
	case errors.Is(err, ucwa.ErrAnswerTooLarge) || errors.Is(err, ucwa.ErrUndecodable):
		// The same P-GET gives the same answer: after a few tries the
		// batch is given up with its application, so that later messages
		// are answered. Not ready meanwhile.
		a.poisoned++
		if a.poisoned < poisonTries {
			a.setBlocked(fmt.Sprintf("event channel: the answer at %s cannot be taken (%v)", href, err))
			log.WithField("try", a.poisoned).Warn("event channel: an answer that cannot be taken; trying the same P-GET again")
			sleep(ctx, b.NextBackOff())
			return href, nil
		}
		a.e.met.alarms.WithLabelValues(a.addr, "poison_batch").Inc()
		log.WithField("cursor", href).Error("ALARM: the event channel keeps answering what cannot be taken; giving its events up with a new application")
		a.poisoned = 0
		a.setState(stateRecover)
		var next string
		// The server hands the same application (and its queued events) to
		// the same endpoint until it is deleted.
		if app, _ := a.currentApp(); app != nil {
			if derr := a.client.DeleteApplication(ctx, app); derr != nil {
				log.WithError(derr).Warn("delete the application whose events cannot be taken")
			}
		}
		rerr := a.retry(ctx, "recreate application", func() error {
			h, err := a.newApplication(ctx)
			next = h
			return err
		})
		if rerr != nil {
			return href, nil
		}
		a.setBlocked("")
		a.setState(stateRunning)
		return next, nil
	case errors.Is(err, ucwa.ErrMakeMeAvailableRequired):
		log.Warn("event channel: makeMeAvailable required")
		if merr := a.makeAvailable(ctx); merr != nil {
			log.WithError(merr).Warn("makeMeAvailable")
			sleep(ctx, b.NextBackOff())
		}
	default:
		d := retryAfter(err)
		if d <= 0 {
			d = b.NextBackOff()
		}
		log.WithField("wait", d.String()).Warn("event channel: retrying the same P-GET")
		sleep(ctx, d)
	}
	if a.getState() == stateRecover {
		a.setState(stateRunning)
	}
	return href, nil
}

// leaseHolder reads the account's lease holder, retrying a failing store
// a few times with backoff.
func (a *account) leaseHolder(ctx context.Context) (store.Lease, error) {
	b := a.e.newBackoff()
	var err error
	for range 5 {
		var l store.Lease
		if l, err = a.e.store.LeaseHolder(ctx, a.addr); err == nil || errors.Is(err, store.ErrNotFound) {
			return l, err
		}
		if !sleep(ctx, b.NextBackOff()) {
			break
		}
	}
	return store.Lease{}, err
}

// backpressure waits while the inbox is longer than InboxMax, so that a
// stalled store or worker pool does not grow it without bound. The length
// the last batch write returned is trusted until it passes the limit;
// then the inbox is read until it is short again. It reports false when
// ctx ended.
func (a *account) backpressure(ctx context.Context) bool {
	if a.inboxLen.Load() <= a.e.cfg.InboxMax {
		return ctx.Err() == nil
	}
	for {
		n, err := a.e.store.Len(ctx, a.addr)
		if err != nil || n <= a.e.cfg.InboxMax {
			if err == nil {
				a.inboxLen.Store(n)
			}
			return ctx.Err() == nil
		}
		a.log.WithField("inbox", n).Warn("inbox full: the next P-GET waits")
		if !sleep(ctx, 200*time.Millisecond) {
			return false
		}
	}
}

// batch handles one event-channel answer: it follows resync and writes
// the batch's events to the inbox with the "sent" marks of the bot's own
// operations the server reports and the cursor, in one write retried
// until the store takes it (so the ack never moves past an unsaved
// event), and returns the href to P-GET next.
//
// The bot's own messages coming back (message.sent) go to the workers
// only when a rule listens to them; otherwise their "sent" mark is all
// that is kept.
func (a *account) batch(ctx context.Context, b *ucwa.Batch) (string, error) {
	if b.Resync != "" {
		a.e.met.reconnects.WithLabelValues(a.addr, "resync").Inc()
		a.log.Warn("event channel: resync; conversation links will be read again")
		a.tr.reset()
		a.storedLinks = nil
		return b.Resync, nil
	}
	confirmed := sentOperations(b)
	envs, err := a.tr.translate(ctx, b)
	if err != nil {
		return "", err
	}
	set := a.e.rules.Current()
	sentToWorkers := set != nil && set.Handles(event.MessageSent)
	entries := make([]store.Entry, 0, len(envs))
	kept := make([]int, 0, len(envs)) // index in envs of each entry
	var skipped []event.Event         // for the observer
	var env envelope                  // one copy for the whole batch: it escapes
	for i := range envs {
		env = envs[i]
		a.e.met.events.WithLabelValues(a.addr, string(env.Event.Kind)).Inc()
		a.observeEvent(env.Event)
		if env.Event.Kind == event.MessageSent && !sentToWorkers {
			if a.e.obs != nil {
				skipped = append(skipped, env.Event)
			}
			continue
		}
		a.slimLinks(&env) // env is a copy: envs[i] keeps the links
		payload, err := encodeEntry(&env)
		if err != nil {
			a.log.WithError(err).Error("encode event")
			continue
		}
		entries = append(entries, store.Entry{EventID: env.Event.ID, Conversation: env.Event.ConversationID(), Payload: payload})
		kept = append(kept, i)
	}
	next := b.Continue()
	if b.Resume != "" {
		a.e.met.reconnects.WithLabelValues(a.addr, "resume").Inc()
		a.log.Warn("event channel: resume; conversations and subscriptions are gone, rebuilding")
		a.tr.reset()
		a.storedLinks = nil
		a.mu.Lock()
		a.sub = nil
		a.mu.Unlock()
		signal(a.resub)
	}
	// A batch the server handed over is written even when shutdown began
	// meanwhile; only a lost lease (ErrFenced) or a store down for longer
	// than the grace stops it, and then the ack does not move.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	app, _ := a.currentApp()
	sess := store.Session{EventsURL: next, EndpointID: a.cfg.EndpointID, Updated: time.Now()}
	if app != nil {
		sess.ApplicationURL = app.URL
	}
	sb := store.Batch{Entries: entries, Sent: confirmed, MarkTTL: a.e.cfg.DoneTTL, Session: &sess}
	err = a.retry(pctx, "inbox append", func() error {
		if len(sb.Sent) > 0 {
			// probeSent reads a "sent" mark by setting and giving it back:
			// none of these may fall in between.
			a.sentMu.Lock()
			defer a.sentMu.Unlock()
		}
		start := time.Now()
		n, err := a.e.store.AppendBatch(pctx, a.addr, a.fence(), sb)
		a.e.met.storeLatency.WithLabelValues("append").Observe(time.Since(start).Seconds())
		if err == nil {
			a.inboxLen.Store(n)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	for j, en := range entries {
		if en.ID != "" {
			a.handoff.put(en.ID, envs[kept[j]])
		}
	}
	if len(entries) > 0 {
		signal(a.wake)
	}
	if a.e.obs != nil {
		// The observer hears of them after the events before them in
		// their conversation.
		for _, ev := range skipped {
			a.e.q.push(a.addr+"\x00"+ev.ConversationID(), job{acct: a, note: &ev})
		}
	}
	a.notePoll(time.Time{}, true)
	return next, nil
}

// slimLinks leaves out of env the links of its conversation that an
// earlier entry of this poller already carried unchanged: the inbox keeps
// them once per conversation, not with every event. A replay in a process
// that never saw them reads them from the server (linkCache.resolve).
func (a *account) slimLinks(env *envelope) {
	conv := env.Event.Conversation.ID
	if env.lazyLinks {
		if prev, ok := a.storedLinks[conv]; ok && prev == env.linksSum {
			return
		}
		l, ok := a.links.get(conv)
		if !ok {
			return
		}
		env.Links = l
	}
	if conv == "" || env.Links.Self == "" {
		return
	}
	if env.Event.Kind == event.ConversationEnded {
		delete(a.storedLinks, conv)
		return
	}
	sum := env.Links.sum()
	if prev, ok := a.storedLinks[conv]; ok && prev == sum {
		env.Links = convLinks{}
		return
	}
	if a.storedLinks == nil {
		a.storedLinks = map[string]uint64{}
	}
	a.storedLinks[conv] = sum
}

// sentOperations returns the operationIds of the operations the batch
// reports the server received from this application: message events
// about outgoing messages (PROTOCOL 8.4) and outgoing messaging
// invitations (8.3) whose embedded resource carries the operationId the
// engine sent.
func sentOperations(b *ucwa.Batch) []string {
	var ops []string
	for i := range b.Events {
		ev := &b.Events[i]
		r := ev.Resource
		if r == nil || r.String("direction") != "Outgoing" {
			continue
		}
		switch {
		case ev.Link.Rel == relMessage && ev.Type == "completed":
		case ev.Link.Rel == relMessagingInvitation && (ev.Type == "started" || ev.Type == "completed"):
		default:
			continue
		}
		if op := r.String("operationId"); op != "" {
			ops = append(ops, op)
		}
	}
	return ops
}

// notePoll records the poller's progress for waitPolled: sent is when
// the outstanding P-GET was sent (zero: none outstanding); stored counts
// one more batch stored in this lease tenure.
func (a *account) notePoll(sent time.Time, stored bool) {
	a.mu.Lock()
	a.pgetSent = sent
	if !sent.IsZero() {
		a.lastPGet = sent
	}
	if stored {
		a.storedPGet = a.lastPGet
	}
	close(a.pollNote)
	a.pollNote = make(chan struct{})
	a.mu.Unlock()
}

// waitPolled waits until the event channel has told this lease tenure
// what the server holds for the account: a batch polled since the lease
// was acquired is stored (events the previous holder did not acknowledge
// come first), or the tenure's P-GET has been outstanding for quiet (the
// server answers at once when it has events, so it had none). It gives
// up after limit or when ctx ends; the reason is returned either way.
func (a *account) waitPolled(ctx context.Context, quiet, limit time.Duration) (bool, string) {
	a.mu.Lock()
	since := a.tenureStart
	a.mu.Unlock()
	switch ok, why := a.waitPolledSince(ctx, since, quiet, limit); {
	case ok && why == whyStored:
		return true, "a batch polled since the lease was acquired is stored"
	case ok:
		return true, "the event channel had no events for this instance"
	case ctx.Err() != nil:
		return false, ctx.Err().Error()
	default:
		return false, "no answer from the event channel since the lease was acquired"
	}
}

// What waitPolledSince saw.
const (
	whyStored = "stored"
	whyQuiet  = "quiet"
)

// waitPolledSince waits until the event channel has told what the server
// received up to since: a batch whose P-GET was sent after since is
// stored (whyStored), or such a P-GET has been outstanding for quiet, the
// server having nothing (whyQuiet). It gives up after limit or when ctx
// ends.
func (a *account) waitPolledSince(ctx context.Context, since time.Time, quiet, limit time.Duration) (bool, string) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		a.mu.Lock()
		stored, sent, note := a.storedPGet, a.pgetSent, a.pollNote
		a.mu.Unlock()
		if stored.After(since) {
			return true, whyStored
		}
		idle := time.NewTimer(limit)
		if sent.After(since) {
			d := quiet - time.Since(sent)
			if d <= 0 {
				idle.Stop()
				return true, whyQuiet
			}
			idle.Reset(d)
		}
		select {
		case <-note:
		case <-idle.C:
		case <-deadline.C:
			idle.Stop()
			return false, ""
		case <-ctx.Done():
			idle.Stop()
			return false, ""
		}
		idle.Stop()
	}
}

// observeEvent updates what the engine itself tracks from events before
// any handler sees them: contacts' presence, subscription warnings.
func (a *account) observeEvent(ev event.Event) {
	switch ev.Kind {
	case event.PresenceChanged:
		if ev.Presence.URI != "" {
			a.mu.Lock()
			a.contacts[ev.Presence.URI] = ev.Presence
			a.mu.Unlock()
		}
	case event.SubscriptionExpiring:
		signal(a.extend)
	}
}

// contactPresence returns a subscribed contact's last known presence.
func (a *account) contactPresence(uri string) (event.Presence, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.contacts[normalizeAddress(uri)]
	return p, ok
}
