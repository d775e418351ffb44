package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/ucwa"
)

// ErrNoLink: the conversation does not offer the operation (not connected
// any more, or the invitation was already answered).
var ErrNoLink = errors.New("bot: the conversation offers no link for this operation")

// decision records whether an invitation was accepted or declined while
// its event was handled.
type decision struct {
	mu      sync.Mutex
	decided bool
	gone    bool // the invitation was gone before the bot accepted it
	// said are the texts the event's steps sent, for the transcript.
	said []string
	// tr records the event's trace (nil: nobody traces).
	tr *traceRec
}

func (d *decision) noteSaid(text string) {
	d.mu.Lock()
	d.said = append(d.said, text)
	d.mu.Unlock()
	d.tr.reply(text)
}

// trace is the event's trace recorder, nil when nobody traces.
func (d *decision) trace() *traceRec {
	if d == nil {
		return nil
	}
	return d.tr
}

func (d *decision) saidTexts() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.said
}

func (d *decision) invitationGone() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gone
}

func (d *decision) setGone() {
	d.mu.Lock()
	d.gone = true
	d.mu.Unlock()
}

func (d *decision) done() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.decided
}

func (d *decision) set() {
	d.mu.Lock()
	d.decided = true
	d.mu.Unlock()
}

// responder is the handlers.Responder of one handler call: it acts in the
// event's conversation. Every operation it asks of the server carries an
// operationId derived from (event id, step, ordinal) and is guarded by
// marks in the store, so that a replayed event whose handlers already ran
// does not do it twice (see once).
type responder struct {
	a       *account
	ev      *event.Event
	links   convLinks
	step    int
	n       atomic.Int64
	decided *decision
	// replay: an earlier run of this event may have begun (a crash or a
	// takeover came between its delivery and its completion, or it failed
	// for a recoverable reason).
	replay replay
	// off is set when the engine abandoned the handler: every later call
	// fails with ErrHandlerAbandoned.
	off atomic.Bool
}

func (r *responder) abandon() { r.off.Store(true) }

var _ handlers.Responder = (*responder)(nil)

func (a *account) responder(ev *event.Event, links convLinks, step int, d *decision, rp replay) *responder {
	return &responder{a: a, ev: ev, links: links, step: step, decided: d, replay: rp}
}

func (r *responder) conv() string { return r.ev.Conversation.ID }

// operationID is the id of the next operation of this handler call; it is
// at most 50 characters, as UCWA requires.
func (r *responder) operationID() string {
	n := r.n.Add(1)
	id := r.ev.ID
	if len(id) > 32 {
		id = id[:32]
	}
	return id + "-" + strconv.Itoa(r.step) + "-" + strconv.FormatInt(n, 10)
}

// sendingKey and sentKey name the two marks of operation op: "sending"
// is taken before an operation the server does not confirm goes out;
// "sent" is set by the poller when the event channel reports an operation
// it received (sentOperations), in the same write as the batch.
func sendingKey(op string) string { return "sending:" + op }
func sentKey(op string) string    { return "sent:" + op }

// replayQuiet is how long the event channel's first P-GET of a lease
// tenure may stay unanswered before a replayed send takes it that the
// server had no events pending (it answers at once when it has some).
func (e *Engine) replayQuiet() time.Duration { return min(5*time.Second, e.cfg.PollTimeout/2) }

// replayLimit bounds how long a replayed send waits for the event channel
// before it sends anyway.
func (e *Engine) replayLimit() time.Duration { return min(30*time.Second, 2*e.cfg.PollTimeout) }

// once runs send unless an earlier run of the same event already did the
// operation op.
//
// When confirmed is true, the server reports every such operation it
// received on the event channel with its operationId, and the poller
// turns that report into the "sent" mark in the same write that stores
// the batch, before it acknowledges it. An event's completion is written
// after its handlers ran, so a first run of an event (not redelivered)
// has no earlier run to repeat and sends at once, without a round trip to
// the store. A redelivered event's earlier run may or may not have
// reached the server (the process died between the send and the
// completion): the replay waits until this lease tenure's poller has
// stored a batch (the previous holder's unacknowledged events come first)
// or the server showed it had nothing pending, and then sends only when
// no "sent" mark exists. That makes the operation happen exactly once
// across a crash or takeover. When the event channel does not answer
// within replayLimit the replay sends anyway and warns that a duplicate is
// possible (at least once).
//
// When confirmed is false (the server reports no operationId:
// addParticipant), the first run takes the "sending" mark before it sends
// and gives it back when sending fails before the request reached the
// server; when the answer is lost after it went out (lostAnswer), neither
// a retry nor a replay repeats the operation (at most once).
func (r *responder) once(ctx context.Context, op string, confirmed bool, send func() error) error {
	st, addr, ttl := r.a.e.store, r.a.addr, r.a.e.cfg.DoneTTL
	log := r.a.log.WithField("operation", op)
	if !confirmed {
		first, err := st.Mark(ctx, addr, sendingKey(op), ttl)
		if err != nil {
			return fmt.Errorf("bot: sending mark %s: %w", op, err)
		}
		if !first {
			log.Info("operation already done by an earlier run of this event; not doing it again")
			return nil
		}
		if err := send(); err != nil {
			if la := (*lostAnswer)(nil); errors.As(err, &la) {
				return err // the mark stays: the server may have done it
			}
			if uerr := st.Unmark(context.WithoutCancel(ctx), addr, sendingKey(op)); uerr != nil {
				log.WithError(uerr).Warn("give back sending mark")
			}
			return err
		}
		return nil
	}
	if r.replay.redelivered {
		limit := r.waitLimit(ctx)
		var ok bool
		var why string
		if since := r.replay.since; since.IsZero() {
			ok, why = r.a.waitPolled(ctx, r.a.e.replayQuiet(), limit)
		} else if ok, _ = r.a.waitPolledSince(ctx, since, r.a.e.replayQuiet(), limit); ok {
			why = "the event channel reported what the server received since the failed run"
		} else {
			why = "no answer from the event channel since the failed run"
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// Read the "sent" mark. What the event channel reported is stored
		// by now.
		unsent, err := r.a.probeSent(ctx, op)
		if err != nil {
			return err
		}
		if !unsent {
			log.Info("reply already sent by an earlier run of this event; not sending it again")
			return nil
		}
		if ok {
			log.WithField("why", why).Info("an earlier run of this event did not get its reply to the server; sending it now")
		} else {
			log.WithField("why", why).Warn("cannot tell whether an earlier run of this event sent its reply; sending it, a duplicate is possible")
		}
	}
	return send()
}

// waitLimit bounds a wait for the event channel's report before an
// operation is sent: replayLimit, and half of what is left of the
// handler's time, so that it can still send after the wait.
func (r *responder) waitLimit(ctx context.Context) time.Duration {
	limit := r.a.e.replayLimit()
	if d, has := ctx.Deadline(); has {
		limit = min(limit, time.Until(d)/2)
	}
	return limit
}

// probeSent reports whether no "sent" mark exists for op. The store has
// no plain read of a mark: Mark sets it when absent, and it is given back
// at once. The poller of this process writes "sent" marks under sentMu
// only, so none of its marks falls between the two and is given back
// with the probe. (Only the lease holder polls; a previous holder's
// poller still writing a batch's marks after a takeover is not ordered.)
func (a *account) probeSent(ctx context.Context, op string) (bool, error) {
	a.sentMu.Lock()
	defer a.sentMu.Unlock()
	unsent, err := a.e.store.Mark(ctx, a.addr, sentKey(op), a.e.cfg.DoneTTL)
	if err != nil {
		return false, fmt.Errorf("bot: sent mark %s: %w", op, err)
	}
	if !unsent {
		return false, nil
	}
	if err := a.e.store.Unmark(context.WithoutCancel(ctx), a.addr, sentKey(op)); err != nil {
		return false, fmt.Errorf("bot: sent mark %s: %w", op, err)
	}
	return true, nil
}

// linksFor returns the conversation's links, read from the server when
// the send link is unknown.
func (r *responder) linksFor(ctx context.Context) (convLinks, error) {
	conv := r.conv()
	if conv == "" {
		return convLinks{}, fmt.Errorf("bot: %s event has no conversation", r.ev.Kind)
	}
	if !r.a.links.has(conv) && r.links.Self != "" {
		r.a.links.update(conv, func(l *convLinks) { l.merge(r.links) })
	}
	var l convLinks
	err := r.a.call(ctx, "read conversation", func() error {
		var err error
		l, err = r.a.links.resolve(ctx, r.a.client, conv)
		return err
	})
	return l, err
}

// sendError is a reply that did not reach the person, with why; the
// engine may run the event again for it (retryEvent).
type sendError struct{ err error }

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

func (r *responder) send(ctx context.Context, contentType, text string) error {
	if err := r.sendOnce(ctx, contentType, text); err != nil {
		return &sendError{err}
	}
	if r.decided != nil {
		r.decided.noteSaid(text)
	}
	return nil
}

// errConversationGone: the event's conversation no longer exists on the
// server (replay.convGone).
var errConversationGone = errors.New("bot: the conversation is gone")

func (r *responder) sendOnce(ctx context.Context, contentType, text string) error {
	var l convLinks
	var err error
	if !r.replay.convGone {
		l, err = r.linksFor(ctx)
	}
	if err == nil && l.SendMessage == "" && !r.replay.convGone {
		return fmt.Errorf("%w: sendMessage in %s", ErrNoLink, r.conv())
	}
	op := r.operationID()
	if r.replay.convGone {
		return r.once(ctx, op, true, func() error { return r.newIM(ctx, op, contentType, text, errConversationGone) })
	}
	if err != nil {
		if r.reIM(err) {
			return r.once(ctx, op, true, func() error { return r.newIM(ctx, op, contentType, text, err) })
		}
		return err
	}
	return r.once(ctx, op, true, func() error {
		err := r.a.call(ctx, "sendMessage", r.settled(ctx, op, func() error {
			_, err := r.a.wire.SendMessage(ctx, l.SendMessage, contentType, text, op)
			return err
		}))
		if r.reIM(err) {
			return r.newIM(ctx, op, contentType, text, err)
		}
		return err
	})
}

// reIM reports whether a reply that failed with err goes to the person as
// a new IM instead: the event runs again after its application was made
// anew (replay.since is set), and the conversation, which belonged to the
// old application, is gone.
func (r *responder) reIM(err error) bool {
	s := statusOf(err)
	return err != nil && !r.replay.since.IsZero() && (s == http.StatusNotFound || s == http.StatusGone) && r.person() != ""
}

// person is who the event's reply is for: the participant who acted,
// unless it is the bot.
func (r *responder) person() string {
	if p := r.ev.Participant; p.URI != "" && !p.Local {
		return p.URI
	}
	return ""
}

// newIM sends the reply as a new conversation with the person, under the
// reply's operationId.
func (r *responder) newIM(ctx context.Context, op, contentType, text string, cause error) error {
	if contentType == "text/html" {
		text = stripTags(text)
	}
	r.a.log.WithError(cause).WithFields(map[string]any{"operation": op, "to": r.person()}).
		Warn("the conversation is gone; sending the reply as a new IM")
	return r.a.call(ctx, "startMessaging", r.settled(ctx, op, func() error {
		app, _ := r.a.currentApp()
		if app == nil {
			return errors.New("bot: no application")
		}
		_, err := r.a.client.StartMessaging(ctx, app, normalizeAddress(r.person()), r.ev.Conversation.Subject, text, op)
		return err
	}))
}

// mayHaveArrived reports whether a failed POST may still have reached the
// server: its answer was lost (the connection broke, a timeout) or a
// gateway or the server failed after taking it (500, 502, 504). A 429 or
// 503 refused it.
func mayHaveArrived(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, ucwa.ErrNotSent) {
		return false
	}
	switch s := statusOf(err); s {
	case 0:
		return ucwa.IsTransient(err)
	case 500, 502, 504:
		return true
	}
	return false
}

// settled wraps the POST of an operation the server confirms on the event
// channel (send): when its answer is lost, it does not hand the error to
// the caller's retries at once — a blind resend would repeat an operation
// the server may have done — but first waits for the event channel to
// report what the server received since, and reports success when it
// received op. Otherwise the error goes on and the operation is sent again.
func (r *responder) settled(ctx context.Context, op string, post func() error) func() error {
	return func() error {
		sent := time.Now()
		err := post()
		if !mayHaveArrived(err) {
			return err
		}
		limit := r.waitLimit(ctx)
		log := r.a.log.WithError(err).WithField("operation", op)
		if ok, _ := r.a.waitPolledSince(ctx, sent, r.a.e.replayQuiet(), limit); !ok {
			log.Warn("answer lost and the event channel did not tell whether the server has the operation; sending it again, a duplicate is possible")
			return err
		}
		unsent, perr := r.a.probeSent(ctx, op)
		if perr != nil {
			return errors.Join(err, perr)
		}
		if !unsent {
			log.Info("answer lost, but the event channel reports the server has the operation; not sending it again")
			return nil
		}
		log.Info("answer lost and the server does not have the operation; sending it again")
		return err
	}
}

// Say sends text/plain to the conversation.
func (r *responder) Say(ctx context.Context, text string) error {
	if r.off.Load() {
		return ErrHandlerAbandoned
	}
	return r.send(ctx, "text/plain", text)
}

// SayHTML sends text/html, or the text without tags where the
// conversation negotiated plain text only.
func (r *responder) SayHTML(ctx context.Context, html string) error {
	if r.off.Load() {
		return ErrHandlerAbandoned
	}
	l, _ := r.a.links.get(r.conv())
	if len(l.Formats) > 0 && !slices.Contains(l.Formats, "Html") {
		return r.send(ctx, "text/plain", stripTags(html))
	}
	return r.send(ctx, "text/html", html)
}

// Typing shows the bot as typing.
func (r *responder) Typing(ctx context.Context) error {
	if r.off.Load() {
		return ErrHandlerAbandoned
	}
	if r.replay.convGone {
		return nil // the reply will open a conversation of its own
	}
	l, err := r.linksFor(ctx)
	if err != nil {
		return err
	}
	if l.SetIsTyping == "" {
		return fmt.Errorf("%w: setIsTyping in %s", ErrNoLink, r.conv())
	}
	return r.a.call(ctx, "setIsTyping", func() error { return r.a.client.SetIsTyping(ctx, l.SetIsTyping) })
}

// Leave makes the bot leave the conversation.
func (r *responder) Leave(ctx context.Context) error {
	if r.off.Load() {
		return ErrHandlerAbandoned
	}
	conv := r.conv()
	if conv == "" {
		return fmt.Errorf("bot: %s event has no conversation", r.ev.Kind)
	}
	if r.replay.convGone {
		return nil
	}
	err := r.a.call(ctx, "leave", func() error { return r.a.client.Leave(ctx, conv) })
	if statusOf(err) == 404 {
		return nil // already gone
	}
	return err
}

func (r *responder) invitationLink(accept bool) string {
	l, _ := r.a.links.get(r.conv())
	l.merge(r.links)
	if accept {
		return l.Accept
	}
	return l.Decline
}

// Accept accepts the pending invitation of an invitation.received event.
func (r *responder) Accept(ctx context.Context) error {
	if r.off.Load() {
		return ErrHandlerAbandoned
	}
	href := r.invitationLink(true)
	if href == "" {
		return fmt.Errorf("%w: accept in %s", ErrNoLink, r.conv())
	}
	r.decided.set()
	return r.answer(ctx, "accept", func() error { return r.a.client.Accept(ctx, href) })
}

// answer sends an invitation's answer. The server takes one answer per
// invitation and refuses another (409: not pending; 404: gone), so the
// answer needs no mark of its own: a replay that is refused takes the
// invitation as answered, by an earlier run or withdrawn by the inviter.
// (A mark taken before the request could outlive a request that never
// left — a lease lost, a store that stopped answering before the mark was
// given back — and the replay would then never answer at all.)
//
// The same holds within one run: when an attempt's answer is lost (the
// connection broke after the request, 500, 502, 504) the answer is sent
// again, and a 409 then means the lost attempt reached the server.
//
// An accept refused because the invitation is gone (404, 410, its
// application gone) is no failure: the decision records it, and the
// engine answers the invitation's first message in a new IM (see
// answerPreview).
func (r *responder) answer(ctx context.Context, what string, send func() error) error {
	lost := false
	err := r.a.call(ctx, what, func() error {
		err := send()
		if lost && statusOf(err) == http.StatusConflict {
			r.a.log.WithField("event", r.ev.ID).Info(what + ": an earlier attempt whose answer was lost reached the server")
			return nil
		}
		lost = lost || mayHaveArrived(err)
		return err
	})
	log := r.a.log.WithError(err).WithField("event", r.ev.ID)
	switch {
	case err == nil:
		return nil
	case r.replay.redelivered && statusOf(err) == http.StatusConflict:
		log.Info(what + ": the invitation was answered already")
		return nil
	case invitationGone(err):
		if what != "accept" {
			log.Info(what + ": the invitation is gone")
			return nil
		}
		// A 404 from a front or a passing fault is no proof: when the
		// conversation is still there, so is its invitation.
		if _, gerr := r.a.client.Get(ctx, r.conv()); gerr == nil {
			log.Warn("accept refused, but the conversation is still there; accepting again")
			if err = r.a.call(ctx, what, send); err == nil || !invitationGone(err) {
				return err
			}
		}
		r.decided.setGone()
		return nil
	}
	return err
}

// Decline declines the pending invitation of an invitation.received event.
func (r *responder) Decline(ctx context.Context) error {
	if r.off.Load() {
		return ErrHandlerAbandoned
	}
	href := r.invitationLink(false)
	if href == "" {
		return fmt.Errorf("%w: decline in %s", ErrNoLink, r.conv())
	}
	r.decided.set()
	return r.answer(ctx, "decline", func() error { return r.a.client.Decline(ctx, href, "Local") })
}

// StartConversation opens a new IM conversation with to.
func (r *responder) StartConversation(ctx context.Context, to, subject, text string) error {
	if r.off.Load() {
		return ErrHandlerAbandoned
	}
	_, err := r.startConversation(ctx, to, subject, text)
	return err
}

// startConversation is StartConversation; it returns the new
// conversation's id when the server said it (not when a replay found the
// conversation started by an earlier run).
func (r *responder) startConversation(ctx context.Context, to, subject, text string) (conv string, err error) {
	op := r.operationID()
	var invitation string
	err = r.once(ctx, op, true, func() error {
		return r.a.call(ctx, "startMessaging", r.settled(ctx, op, func() error {
			app, _ := r.a.currentApp()
			if app == nil {
				return errors.New("bot: no application")
			}
			var err error
			invitation, err = r.a.client.StartMessaging(ctx, app, normalizeAddress(to), subject, text, op)
			return err
		}))
	})
	if err != nil || invitation == "" {
		return "", err
	}
	if inv, gerr := r.a.client.Get(ctx, invitation); gerr == nil {
		conv = inv.Links.Href("conversation")
	}
	return conv, nil
}

// Invite adds to to the event's conversation.
func (r *responder) Invite(ctx context.Context, to string) error {
	if r.off.Load() {
		return ErrHandlerAbandoned
	}
	l, err := r.linksFor(ctx)
	if err != nil {
		return err
	}
	if l.AddParticipant == "" {
		return fmt.Errorf("%w: addParticipant in %s", ErrNoLink, r.conv())
	}
	op := r.operationID()
	return r.once(ctx, op, false, func() error {
		return r.a.call(ctx, "addParticipant", func() error {
			_, err := r.a.client.AddParticipant(ctx, l.AddParticipant, normalizeAddress(to), op)
			if mayHaveArrived(err) {
				return &lostAnswer{op: "addParticipant " + to, err: err}
			}
			return err
		})
	})
}

// lostAnswer is the error of an operation done at most once whose answer
// was lost after the request went out: the server may have done it, so it
// is neither retried nor repeated by a replay.
type lostAnswer struct {
	op  string
	err error
}

func (e *lostAnswer) Error() string {
	return fmt.Sprintf("bot: %s: the answer was lost and the server may have done it; not sent again (at most once): %v", e.op, e.err)
}

// Subscribe watches uri's presence; changes arrive as presence.changed.
func (r *responder) Subscribe(ctx context.Context, uri string) error {
	if r.off.Load() {
		return ErrHandlerAbandoned
	}
	r.a.watch(uri)
	return nil
}

// Presence returns the last known presence of a subscribed contact.
func (r *responder) Presence(uri string) (event.Presence, bool) { return r.a.contactPresence(uri) }
