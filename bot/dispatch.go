package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/rules"
	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/ucwa"
)

// feed reads the account's inbox and hands its entries to the workers,
// keeping at most QueueSize of them in flight: when that many wait, it
// stops reading (backpressure on the inbox, never a drop). Entries left
// by a crash or a previous owner come first.
func (a *account) feed(ctx context.Context) {
	b := a.e.newBackoff()
	for ctx.Err() == nil {
		room := a.e.cfg.QueueSize - a.inflightLen()
		if room <= 0 {
			a.waitWake(ctx, time.Second)
			continue
		}
		start := time.Now()
		entries, err := a.e.store.Pending(ctx, a.addr, room, 500*time.Millisecond)
		a.e.met.storeLatency.WithLabelValues("pending").Observe(time.Since(start).Seconds())
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.WithError(err).Warn("read inbox")
			sleep(ctx, b.NextBackOff())
			continue
		}
		b.Reset()
		added := 0
		for _, en := range entries {
			a.mu.Lock()
			dup := a.inflight[en.ID]
			if !dup {
				a.inflight[en.ID] = true
			}
			n := len(a.inflight)
			a.mu.Unlock()
			if dup {
				continue
			}
			a.e.met.queueDepth.WithLabelValues(a.addr).Set(float64(n))
			a.e.q.push(a.addr+"\x00"+en.Conversation, job{acct: a, entry: en, lease: a.leaseCtx()})
			added++
		}
		if added == 0 && len(entries) > 0 {
			a.waitWake(ctx, 200*time.Millisecond)
		}
	}
}

func (a *account) waitWake(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-a.wake:
	case <-t.C:
	}
}

func (a *account) inflightLen() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.inflight)
}

func (a *account) finish(ids ...string) {
	a.mu.Lock()
	for _, id := range ids {
		delete(a.inflight, id)
	}
	n := len(a.inflight)
	if n == 0 && a.drained != nil {
		close(a.drained)
		a.drained = nil
	}
	a.mu.Unlock()
	a.e.met.queueDepth.WithLabelValues(a.addr).Set(float64(n))
	signal(a.wake)
}

func (a *account) clearInflight() {
	a.handoff.reset()
	a.mu.Lock()
	a.inflight = map[string]bool{}
	if a.drained != nil {
		close(a.drained)
		a.drained = nil
	}
	a.mu.Unlock()
}

// waitInflight waits until no event of the account is in flight, at most
// d or until ctx ends; it reports whether they all finished.
func (a *account) waitInflight(ctx context.Context, d time.Duration) bool {
	a.mu.Lock()
	if len(a.inflight) == 0 {
		a.mu.Unlock()
		return true
	}
	if a.drained == nil {
		a.drained = make(chan struct{})
	}
	ch := a.drained
	a.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return a.inflightLen() == 0
}

// work is one worker of the shared pool. A handled entry's conversation
// stays busy until its completion is written (see committer): the worker
// moves on to another conversation meanwhile.
func (e *Engine) work(ctx context.Context) {
	for {
		key, j, ok := e.q.take()
		if !ok {
			return
		}
		a, en := j.acct, j.entry
		if j.note != nil {
			if e.obs != nil {
				e.obs.EventHandled(*j.note, nil, nil)
			}
			e.q.done(key)
			continue
		}
		release := func() {
			e.q.done(key)
			a.finish(en.ID)
		}
		if j.lease == nil {
			j.lease = a.leaseCtx()
		}
		if j.lease.Err() != nil {
			// The tenure that read the entry ended: it stays in the inbox
			// for the next holder.
			release()
			continue
		}
		hctx, stop := underLease(ctx, j.lease)
		c, ev, fired, herr, ok := a.handle(hctx, en, replay{})
		var b *backoff.ExponentialBackOff
		for attempt := 1; ok && retryEvent(herr) && attempt < maxEventAttempts && hctx.Err() == nil; attempt++ {
			// A reply failed for a reason the engine recovers from (the
			// application is gone and is being made again): the event runs
			// again once the recovery had time, as a replay that sends only
			// what the server does not have; nothing is completed meanwhile,
			// so the conversation's later events wait.
			failed := time.Now()
			if b == nil {
				b = a.e.newBackoff()
			}
			d := min(b.NextBackOff(), maxEventRetryWait)
			a.log.WithError(herr).WithFields(logrus.Fields{"event": ev.ID, "attempt": attempt, "wait": d.String()}).
				Warn("handler failed for a recoverable reason; running the event again after the recovery")
			a.e.met.reconnects.WithLabelValues(a.addr, "event_retry").Inc()
			if !sleep(hctx, d) {
				break
			}
			c, ev, fired, herr, ok = a.handle(hctx, en, replay{redelivered: true, since: failed})
		}
		// A handler whose request the lease check stopped (errNotHolder)
		// was cut short too, even when the tenure's cancellation has not
		// reached hctx yet: completing its entry would mark the event done
		// without its reply, under a fence the store may still accept (no
		// one else took the lease yet, or this instance takes its own
		// lease again).
		cut := errors.Is(context.Cause(hctx), errLeaseLost) || errors.Is(herr, errLeaseLost)
		stop()
		if !ok || cut {
			// Handlers cut short by the end of the lease tenure: the entry
			// is not completed, the next holder replays it.
			release()
			continue
		}
		a.commits.submit(ctx, completion{c: c, after: func(written bool) {
			if written {
				if ev.Kind == event.ConversationEnded {
					a.states.drop(ev.Conversation.ID)
				}
				if e.obs != nil && ev.Kind != "" {
					e.obs.EventHandled(ev, fired, herr)
				}
			}
			release()
		}})
	}
}

// replay says how an event's handlers run: redelivered when an earlier
// run may have done some of their operations, and since, when not zero,
// the time after which the event channel must have reported what the
// server received before an operation is repeated (the earlier run's
// failure; zero: this lease tenure's first batch, see responder.once).
type replay struct {
	redelivered bool
	since       time.Time
	// convGone: the event's conversation no longer exists on the server
	// (an invitation gone before it was accepted); replies go to the
	// person as new IMs.
	convGone bool
}

// maxEventAttempts bounds the runs of an event whose handlers keep failing
// for a recoverable reason.
const maxEventAttempts = 5

// retryEvent reports whether a handler error is a reply that failed for a
// reason the engine recovers from by itself, so that running the event
// again later can succeed: the application is gone (404
// ApplicationNotFound, 410), or the conversation is (404: dropped by a
// resume), which a new run reads again or replaces by a new IM
// (responder.reIM). Other operations (accept, addParticipant) are not
// run again: the server would refuse them the same way.
func retryEvent(err error) bool {
	var se *sendError
	if !errors.As(err, &se) {
		return false
	}
	if errors.Is(err, ucwa.ErrApplicationGone) {
		return true
	}
	s := statusOf(err)
	return s == http.StatusNotFound || s == http.StatusGone
}

// maxEventRetryWait bounds each wait before an event runs again: the
// worker waits with it.
const maxEventRetryWait = 2 * time.Second

// handle runs one inbox entry through the rules and handlers and returns
// its completion: the entry leaves the inbox, its event is marked done and
// its state changes are written, all at once, under the lease's fence,
// when the committer writes it. ok is false when nothing is to be written
// (ctx ended while the store was down). An entry delivered before and not
// completed (a crash, a takeover) whose event is done runs nothing.
func (a *account) handle(ctx context.Context, en store.Entry, rp replay) (c store.Completion, ev event.Event, fired []string, herr error, ok bool) {
	rp.redelivered = rp.redelivered || en.Redelivered
	c = store.Completion{Entry: en, Fence: a.fence(), DoneTTL: a.e.cfg.DoneTTL}
	env, fresh := a.handoff.take(en.ID)
	if !fresh {
		var err error
		if env, err = decodeEntry(en.Payload, a.addr, en.Conversation); err != nil {
			a.log.WithError(err).WithField("entry", en.ID).Error("undecodable inbox entry; dropping it")
			return c, ev, nil, nil, true
		}
	}
	ev = env.Event
	log := a.log.WithFields(logrus.Fields{"event": ev.ID, "kind": ev.Kind, "conversation": ev.Conversation.ID})
	if rp.redelivered {
		var done bool
		if err := a.storeRetry(ctx, "done", func() error {
			var err error
			done, err = a.e.store.Done(ctx, a.addr, en.EventID)
			return err
		}); err != nil {
			return c, ev, nil, nil, false
		}
		if done {
			log.Debug("event already handled; skipping")
			return c, event.Event{}, nil, nil, true
		}
	}
	if conv := ev.Conversation.ID; conv != "" && env.Links.Self != "" {
		if !a.links.has(conv) && ev.Kind != event.ConversationEnded {
			a.links.update(conv, func(l *convLinks) { l.merge(env.Links) })
		}
	}
	var fields store.Fields
	if conv := ev.Conversation.ID; conv != "" {
		var cached bool
		if fields, cached = a.states.get(c.Fence, conv); !cached {
			if err := a.storeRetry(ctx, "load state", func() error {
				start := time.Now()
				var err error
				fields, err = a.e.store.LoadState(ctx, a.addr, conv)
				a.e.met.storeLatency.WithLabelValues("load_state").Observe(time.Since(start).Seconds())
				return err
			}); err != nil {
				return c, ev, nil, nil, false
			}
			a.states.put(c.Fence, conv, fields)
		}
	}
	st := event.NewState(fields)
	if previewAnswered(&ev, st) {
		log.Info("first message answered from its invitation already; not again")
		c.Set, c.Delete = st.Changes()
		return c, ev, nil, nil, true
	}
	start := time.Now()
	tr := a.startTrace(&ev, fields, rp)
	var notifyErr error
	if ev.Kind == event.MessageRequested && !a.e.cfg.Shadow {
		notifyErr = a.deliverRequested(ctx, log, &ev, rp)
	}
	if err := a.idle(ctx, &ev); err != nil {
		log.WithError(err).Warn("idle timer")
	}
	if err := a.endTimers(ctx, &ev); err != nil {
		log.WithError(err).Warn("timers of the ended conversation")
	}
	fired, herr = a.runRules(ctx, log, &ev, env.Links, st, rp, tr)
	if notifyErr != nil {
		herr = notifyErr // the worker runs the event again after the recovery
	}
	c.Set, c.Delete = st.Changes()
	tr.finish(fired, c.Set, c.Delete, herr)
	c.Forget = ev.Kind == event.ConversationEnded && ev.Conversation.ID != "" && !a.e.cfg.KeepEndedState
	if debugEnabled(log) {
		log.WithFields(logrus.Fields{"rules": fired, "state_set": len(c.Set), "state_deleted": len(c.Delete),
			"redelivered": rp.redelivered, "duration": time.Since(start)}).Debug("event handled")
	}
	return c, ev, fired, herr, true
}

// debugEnabled reports whether log writes debug lines, so that the event
// path builds their fields only when someone reads them.
func debugEnabled(log logrus.FieldLogger) bool {
	switch l := log.(type) {
	case *logrus.Entry:
		return l.Logger.IsLevelEnabled(logrus.DebugLevel)
	case *logrus.Logger:
		return l.IsLevelEnabled(logrus.DebugLevel)
	}
	return true
}

// storeRetry retries a store operation with backoff until it succeeds,
// the lease is lost (ErrFenced) or ctx ends.
func (a *account) storeRetry(ctx context.Context, op string, fn func() error) error {
	var b *backoff.ExponentialBackOff // made at the first failure: most calls have none
	for {
		err := fn()
		if err == nil || errors.Is(err, store.ErrFenced) || ctx.Err() != nil {
			return err
		}
		a.e.met.storeErrors.WithLabelValues(op).Inc()
		a.log.WithError(err).WithField("op", op).Warn("store unavailable; retrying")
		if b == nil {
			b = a.e.newBackoff()
		}
		if !sleep(ctx, b.NextBackOff()) {
			return ctx.Err()
		}
	}
}

// runRules evaluates the rules for ev and runs the matching handlers in
// order; it returns the names of the rules that fired and the first error.
func (a *account) runRules(ctx context.Context, log logrus.FieldLogger, ev *event.Event, links convLinks, st *event.State, rp replay, tr *traceRec) ([]string, error) {
	set := a.e.rules.Current()
	tr.rules(set, ev.Kind)
	in := &rules.Input{
		Event:    ev,
		State:    st.Map(),
		Presence: a.contactPresence,
		Bot:      rules.Bot{Account: a.addr},
		Now:      time.Now(),
		KV:       kv{a: a}.read(ctx),
	}
	var firstErr error
	keep := func(err error) {
		// The first error, unless a later one says the lease was lost:
		// the worker must then leave the entry for the next holder.
		if err != nil && (firstErr == nil || errors.Is(err, errLeaseLost) && !errors.Is(firstErr, errLeaseLost)) {
			firstErr = err
		}
	}
	// The participant's state across conversations: read before the
	// rules when an expression reads it, else once a rule fires (a
	// handler may change it).
	var person *event.State
	who := personOf(ev)
	loadPerson := func() {
		if who == "" || person != nil {
			return
		}
		f, err := a.loadPerson(ctx, who)
		if err != nil {
			// No state rather than an empty one, which a handler's change
			// would write back over the person's other fields.
			log.WithError(err).Warn("person state unavailable")
			keep(err)
			who = ""
			return
		}
		person = event.NewState(f)
	}
	if set != nil && set.UsesPerson() {
		if loadPerson(); person != nil {
			in.Person = person.Map()
		}
	}
	var matches []rules.Match
	if set != nil {
		var err error
		matches, err = set.Eval(ctx, in, marker{a: a, event: ev.ID})
		if err != nil {
			a.e.met.ruleErrors.WithLabelValues(a.addr, "").Inc()
			log.WithError(err).Warn("rule evaluation")
			keep(err)
		}
	}
	if len(matches) > 0 {
		loadPerson()
		defer func() {
			if person != nil {
				keep(a.savePerson(ctx, who, person))
			}
		}()
	}
	decided := &decision{tr: tr}
	var fired []string
	step := 0
	for _, m := range matches {
		fired = append(fired, m.Rule.Name)
		a.e.met.ruleMatches.WithLabelValues(a.addr, m.Rule.Name).Inc()
		if m.Help != "" && !a.e.cfg.Shadow {
			step++
			if err := a.responder(ev, links, step, decided, rp).Say(ctx, m.Help); err != nil {
				log.WithError(err).Warn("help answer failed")
				keep(err)
			}
			continue
		}
		base := step
		step += len(m.Rule.Do) // steps keep their numbers whatever runs
		for i := range m.Rule.Do {
			err := a.runStep(ctx, log, set, m.Rule, "do", i, base+i+1, ev, links, st, person, decided, rp, nil)
			if err == nil {
				continue
			}
			keep(err)
			if len(m.Rule.OnError) == 0 {
				continue
			}
			// on_error replaces the rest of do. Its steps are numbered
			// apart, after the step that failed, so that the operation ids
			// of the other steps do not depend on what failed.
			for j := range m.Rule.OnError {
				keep(a.runStep(ctx, log, set, m.Rule, "on_error", j, onErrorStep(base+i+1, j), ev, links, st, person, decided, rp, err))
			}
			break
		}
	}
	// The invitation policy applies in shadow mode too: a shadow bot takes
	// the conversations it would take, and only its handlers are silent.
	if ev.Kind == event.InvitationReceived && !decided.done() {
		keep(a.defaultInvitation(ctx, log, set, in, ev, links, decided, rp))
	}
	if ev.Kind == event.InvitationReceived && decided.invitationGone() && ev.Message.Text != "" && !a.e.cfg.Shadow {
		more, err := a.answerPreview(ctx, log, ev, st, rp)
		fired = append(fired, more...)
		keep(err)
	}
	a.transcribe(ctx, log, ev, fired, decided.saidTexts())
	return fired, firstErr
}

// defaultInvitation accepts or declines an invitation no handler decided:
// declined while shutting down, else as the rules' invitation policy says
// (default: accept); a policy that fails declines.
func (a *account) defaultInvitation(ctx context.Context, log logrus.FieldLogger, set *rules.Set, in *rules.Input, ev *event.Event, links convLinks, d *decision, rp replay) error {
	accept := !a.e.isDraining()
	if accept && set != nil {
		ok, err := set.AcceptInvitation(in)
		if err != nil {
			// Fail closed: a policy that cannot be evaluated takes no one in.
			a.e.met.ruleErrors.WithLabelValues(a.addr, "invitation_policy").Inc()
			log.WithError(err).Warn("invitation policy failed; declining")
		}
		accept = ok && err == nil
	}
	r := a.responder(ev, links, 0, d, rp)
	if accept {
		return r.Accept(ctx)
	}
	return r.Decline(ctx)
}

// PanicError is a handler panic turned into an error, with its stack.
type PanicError struct {
	Value any
	Stack []byte
}

// Error reports the panic value.
func (p *PanicError) Error() string { return fmt.Sprintf("handler panicked: %v", p.Value) }

// onErrorStep numbers the j-th on_error step run after step failed.
func onErrorStep(failed, j int) int { return 1_000_000 + failed*100 + j }

// runStep runs one step of a rule (list is do or on_error, i its index)
// as step number step of the event; failed is the error on_error steps
// handle.
func (a *account) runStep(ctx context.Context, log logrus.FieldLogger, set *rules.Set, r *rules.Rule, list string, i, step int,
	ev *event.Event, links convLinks, st, person *event.State, decided *decision, rp replay, failed error) error {
	s := r.Do
	if list == "on_error" {
		s = r.OnError
	}
	hlog := log.WithFields(logrus.Fields{"rule": r.Name, "handler": s[i].Plugin})
	if list != "do" {
		hlog = hlog.WithField("list", list)
	}
	if a.e.cfg.Shadow {
		hlog.Info("shadow: would run handler")
		decided.trace().step(r.Name, s[i].Plugin, 0, nil, true)
		return nil
	}
	h, ok := s[i].Instance.(handlers.Handler)
	if !ok {
		hlog.Error("rule step has no handler instance")
		return nil
	}
	reply := a.responder(ev, links, step, decided, rp)
	req := &handlers.Request{
		Event: ev,
		State: st,
		Rule:  handlers.Rule{Name: r.Name, Handler: s[i].Plugin, Index: i, File: s[i].File, Line: s[i].Line},
		Log:   hlog,
		Reply: reply,

		IdempotencyKey: stepKey(ev.ID, step),
		Redelivered:    rp.redelivered,
		Failed:         failed,
		Person:         person,
		KV:             kv{a, &reply.off},
		Transcript:     a.transcriptText(ev),
		Timers:         a.timersFor(ev, &reply.off),
	}
	start := time.Now()
	err := a.callHandler(ctx, h, req)
	dur := time.Since(start)
	a.e.met.handlerLatency.WithLabelValues(s[i].Plugin).Observe(dur.Seconds())
	set.Observe(r, dur, err)
	decided.trace().step(r.Name, s[i].Plugin, dur, err, false)
	if err != nil {
		a.e.met.ruleErrors.WithLabelValues(a.addr, r.Name).Inc()
		hlog.WithError(err).WithField("duration", dur).Warn("handler failed")
	} else if debugEnabled(hlog) {
		hlog.WithFields(logrus.Fields{"step": step, "duration": dur}).Debug("rule action ran")
	}
	return err
}

// stepKey is the idempotency key of an event's step: stable across
// replays, as the steps of a rule set are numbered the same way each run.
func stepKey(eventID string, step int) string {
	return eventID + "-" + strconv.Itoa(step)
}

// abandonGrace is how long a handler may take to return after its
// context is done before the engine gives up on it.
const abandonGrace = 100 * time.Millisecond

// ErrHandlerAbandoned is the error of a handler call the engine gave up
// on: it did not return within abandonGrace of its context's end (its
// timeout, a shutdown, the lease lost).
var ErrHandlerAbandoned = errors.New("bot: handler did not return when its context was done; abandoned")

// callHandler runs h under the handler timeout, turning a panic into a
// *PanicError. The handler works on forks of the conversation's and the
// person's state, joined when it returns. One that ignores its context is abandoned abandonGrace after
// the context is done, so that the worker goes on to other
// conversations: its state changes are dropped, its responder refuses
// every later call, and ucwabot_handlers_abandoned_total counts it. Its
// goroutine is left to end on its own.
func (a *account) callHandler(ctx context.Context, h handlers.Handler, req *handlers.Request) error {
	ctx, cancel := context.WithTimeout(ctx, a.e.cfg.HandlerTimeout)
	defer cancel()
	st, person := req.State, req.Person
	call := *req
	call.State = st.Fork()
	if person != nil {
		call.Person = person.Fork()
	}
	done := make(chan error, 1)
	a.e.runHandler(func() {
		defer func() {
			if v := recover(); v != nil {
				done <- &PanicError{Value: v, Stack: debug.Stack()}
			}
		}()
		done <- h.Handle(ctx, &call)
	})
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		t := time.NewTimer(abandonGrace)
		defer t.Stop()
		select {
		case err = <-done:
		case <-t.C:
			if r, ok := call.Reply.(*responder); ok {
				r.abandon()
			}
			a.e.met.handlersAbandoned.WithLabelValues(a.addr, req.Rule.Handler).Inc()
			return fmt.Errorf("%w (%w)", ErrHandlerAbandoned, context.Cause(ctx))
		}
	}
	st.Join(call.State)
	if person != nil {
		person.Join(call.Person)
	}
	return err
}

// marker adapts the store's marks to rules.Marker (cooldowns) for the
// evaluation of one event. Rules take their cooldown marks while they are
// evaluated, before any handler runs; so that a replay of the event (the
// process died after the evaluation) fires the same rules again, the
// event first takes a mark of its own per cooldown key, kept for DoneTTL:
// finding it taken means an earlier run of this very event got past the
// cooldown, and the rule fires again (the replies' own send-once marks
// keep them from going out twice). A run that loses the cooldown to
// another event gives its own mark back.
type marker struct {
	a     *account
	event string
}

func (m marker) Mark(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	st, addr := m.a.e.store, m.a.addr
	if m.event == "" {
		return st.Mark(ctx, addr, "cooldown:"+key, ttl)
	}
	own := "cooldown-event:" + m.event + ":" + key
	first, err := st.Mark(ctx, addr, own, m.a.e.cfg.DoneTTL)
	if err != nil {
		return false, err
	}
	if !first {
		return true, nil
	}
	ok, err := st.Mark(ctx, addr, "cooldown:"+key, ttl)
	if err == nil && ok {
		return true, nil
	}
	if uerr := st.Unmark(context.WithoutCancel(ctx), addr, own); uerr != nil && err == nil {
		err = uerr
	}
	return false, err
}
