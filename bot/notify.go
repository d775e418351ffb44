package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/store"
)

// The notify API: something outside the conversations (a monitoring
// alert, a deploy pipeline) asks the bot to write to a person, starting a
// conversation, or to an open conversation. The request becomes a
// message.requested event in the account's inbox, so it is durable (it
// survives a crash or a takeover of the instance that took it), ordered
// with the conversation's other events, and deduplicated by its key: the
// event id derives from the caller's idempotency key, the inbox skips an
// event that is queued or done, and the outcome is kept (store.Values,
// "notify:<id>") for DoneTTL, so a caller that retries gets the first
// request's outcome and the person one message. The send itself is a
// reply like any other, with an operationId the server echoes, so a
// replay after a kill does not send it twice.

// Errors of Notify. Each wraps the reason in its message.
var (
	// ErrNotifyInvalid: the request is malformed (the HTTP API answers 400).
	ErrNotifyInvalid = errors.New("bot: invalid notification")
	// ErrRateLimited: the account's notify rate is spent (429).
	ErrRateLimited = errors.New("bot: notify rate limit reached")
	// ErrNoHolder: no instance drives the account yet (503).
	ErrNoHolder = errors.New("bot: no instance drives the account")
)

// MaxNotifyText bounds a notification's text or HTML.
const MaxNotifyText = 64 << 10

// A Notification asks the bot to send a message of its own.
type Notification struct {
	// Account is the bot account that sends; it may be left empty when
	// the engine drives one account.
	Account string `json:"account,omitempty"`
	// To is the SIP URI of the person to write to in a new conversation;
	// Conversation, instead, is the id of an open conversation of the
	// account (as events and the admin API name it).
	To           string `json:"to,omitempty"`
	Conversation string `json:"conversation,omitempty"`
	// Text or HTML is the message. A new conversation's first message is
	// plain text: HTML is sent without its tags there.
	Text string `json:"text,omitempty"`
	HTML string `json:"html,omitempty"`
	// Subject of a new conversation.
	Subject string `json:"subject,omitempty"`
	// Key is the caller's idempotency key: requests with the same key are
	// one message. Empty: a random key.
	Key string `json:"idempotency_key,omitempty"`
}

// Notify outcomes (NotifyResult.Status).
const (
	NotifyQueued = "queued" // in the inbox, not sent yet
	NotifySent   = "sent"   // the server took the message (message.sent follows)
	NotifyFailed = "failed" // the server refused it, or the conversation is not open
)

// NotifyResult is what became of a notification.
type NotifyResult struct {
	ID      string `json:"id"`
	Account string `json:"account"`
	Status  string `json:"status"`
	// Conversation is the conversation the message went to, when known.
	Conversation string `json:"conversation,omitempty"`
	// Error says why the message failed.
	Error string    `json:"error,omitempty"`
	Time  time.Time `json:"time,omitzero"`
}

// Final reports whether the result will not change any more.
func (r NotifyResult) Final() bool { return r.Status == NotifySent || r.Status == NotifyFailed }

func notifyKey(id string) string { return "notify:" + id }

// notifyAccount checks n and returns the account it is for.
func (e *Engine) notifyAccount(n *Notification) (*account, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrNotifyInvalid, fmt.Sprintf(format, args...))
	}
	switch {
	case (n.To == "") == (n.Conversation == ""):
		return nil, bad("give either to (a SIP URI) or conversation (an open conversation's id)")
	case (n.Text == "") == (n.HTML == ""):
		return nil, bad("give either text or html")
	case len(n.Text) > MaxNotifyText || len(n.HTML) > MaxNotifyText:
		return nil, bad("the message is longer than %d bytes", MaxNotifyText)
	case !utf8.ValidString(n.Text + n.HTML + n.Subject + n.Key):
		return nil, bad("the request is not valid UTF-8")
	case len(n.Key) > 200:
		return nil, bad("idempotency_key is longer than 200 bytes")
	case len(n.Subject) > 1000:
		return nil, bad("subject is longer than 1000 bytes")
	}
	if n.To != "" {
		to := normalizeAddress(n.To)
		if !strings.HasPrefix(to, "sip:") || !strings.Contains(to, "@") || strings.ContainsAny(to, " \t\r\n") {
			return nil, bad("to %q is not a SIP URI such as sip:alice@contoso.com", n.To)
		}
		n.To = to
	}
	if n.Account == "" && len(e.accounts) != 1 {
		return nil, bad("account is required: this bot drives %d accounts", len(e.accounts))
	}
	return e.accountFor(n.Account)
}

// Notify queues n and waits up to wait for its outcome. It returns the
// result known by then: Status NotifyQueued when the message is still on
// its way (NotifyResultOf tells later). A request whose key was seen
// within DoneTTL is not queued again; its result is that of the first.
func (e *Engine) Notify(ctx context.Context, n Notification, wait time.Duration) (NotifyResult, error) {
	a, err := e.notifyAccount(&n)
	if err != nil {
		return NotifyResult{}, err
	}
	key := n.Key
	if key == "" {
		key = uuid.NewString()
	}
	ev := event.Event{
		ID:           eventID(a.addr, string(event.MessageRequested), key),
		Kind:         event.MessageRequested,
		Account:      a.addr,
		Time:         time.Now(),
		Conversation: event.Conversation{ID: n.Conversation, Subject: n.Subject, Direction: "Outgoing"},
		Participant:  event.Participant{URI: n.To},
		Message:      event.Message{Text: n.Text, HTML: n.HTML, Direction: "Outgoing"},
	}
	res := NotifyResult{ID: ev.ID, Account: a.addr, Status: NotifyQueued, Conversation: n.Conversation}
	prev, err := e.NotifyResultOf(ctx, a.addr, ev.ID)
	switch {
	case err == nil && prev.Final():
		return prev, nil
	case err == nil:
		res = prev
	case !errors.Is(err, store.ErrNotFound):
		return res, err
	}
	// The first request with this key records it as queued (a mark makes
	// sure that two at once do not both write, and that none overwrites
	// the worker's outcome); every one appends the entry, which the inbox
	// takes once: a retry after a failed append queues the message then.
	first, err := e.store.Mark(ctx, a.addr, "notify-queued:"+ev.ID, e.cfg.DoneTTL)
	if err != nil {
		return res, err
	}
	if first && !a.notifyLimit.Allow() {
		if uerr := e.store.Unmark(ctx, a.addr, "notify-queued:"+ev.ID); uerr != nil {
			a.log.WithError(uerr).Warn("notify mark")
		}
		return res, fmt.Errorf("%w for %s (%g per second, bursts of %d; engine.notify_rate)", ErrRateLimited, a.addr, float64(a.notifyLimit.Limit()), a.notifyLimit.Burst())
	}
	payload, err := encodeEntry(&envelope{Event: ev})
	if err != nil {
		return res, err
	}
	var queued []byte
	if first {
		queued, _ = json.Marshal(res)
	}
	if err := e.appendNotify(ctx, a, store.Entry{EventID: ev.ID, Conversation: n.Conversation, Payload: payload}, queued); err != nil {
		return res, err
	}
	a.log.WithFields(logrus.Fields{"event": ev.ID, "to": n.To, "conversation": n.Conversation}).Info("notification queued")
	return e.awaitNotify(ctx, res, wait)
}

// appendNotify writes the queued record (when not nil) and the inbox entry under the
// account's current fencing token, read from the lease: any instance may
// take a notification, the holder or a standby. A token that moves in
// between (a takeover) is read again.
func (e *Engine) appendNotify(ctx context.Context, a *account, en store.Entry, queued []byte) error {
	for attempt := 0; ; attempt++ {
		l, err := e.store.LeaseHolder(ctx, a.addr)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w %s", ErrNoHolder, a.addr)
		}
		if err != nil {
			return err
		}
		if queued != nil {
			err = e.store.SetValue(ctx, a.addr, l.Token, notifyKey(en.EventID), queued, e.cfg.DoneTTL)
		}
		if err == nil {
			err = e.store.Append(ctx, a.addr, l.Token, []store.Entry{en})
		}
		if !errors.Is(err, store.ErrFenced) || attempt == 3 {
			return err
		}
	}
}

// awaitNotify polls the stored result until it is final, wait passes or
// ctx ends.
func (e *Engine) awaitNotify(ctx context.Context, res NotifyResult, wait time.Duration) (NotifyResult, error) {
	deadline := time.Now().Add(wait)
	for d := 10 * time.Millisecond; !res.Final() && time.Now().Before(deadline); d = min(2*d, 250*time.Millisecond) {
		if !sleep(ctx, min(d, time.Until(deadline))) {
			return res, ctx.Err()
		}
		if r, err := e.NotifyResultOf(ctx, res.Account, res.ID); err == nil {
			res = r
		}
	}
	return res, nil
}

// NotifyResultOf returns the stored result of notification id;
// store.ErrNotFound when there is none (unknown, or older than DoneTTL).
func (e *Engine) NotifyResultOf(ctx context.Context, account, id string) (NotifyResult, error) {
	a, err := e.accountFor(account)
	if err != nil {
		return NotifyResult{}, err
	}
	b, err := e.store.GetValue(ctx, a.addr, notifyKey(id))
	if err != nil {
		return NotifyResult{}, err
	}
	var r NotifyResult
	if err := json.Unmarshal(b, &r); err != nil {
		return NotifyResult{}, fmt.Errorf("bot: notify result %s: %w", id, err)
	}
	return r, nil
}

// newNotifyLimiter is an account's notify rate limiter.
func newNotifyLimiter(c Config) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(c.NotifyRate), c.NotifyBurst)
}

// deliverRequested sends a message.requested event's message and stores
// its outcome. The send is a reply of step 0 (its operationId derives from
// the event id), so a replay does not send it again. A send that failed
// for a reason the engine recovers from (the application is being made
// again) stays queued, with the error, and is returned: the worker runs
// the event again after the recovery, as for a rule's reply.
func (a *account) deliverRequested(ctx context.Context, log logrus.FieldLogger, ev *event.Event, rp replay) error {
	res := NotifyResult{ID: ev.ID, Account: a.addr, Status: NotifySent, Conversation: ev.Conversation.ID}
	r := a.responder(ev, convLinks{}, 0, &decision{}, rp)
	var err error
	switch {
	case ev.Conversation.ID != "" && ev.Message.HTML != "":
		err = r.SayHTML(ctx, ev.Message.HTML)
	case ev.Conversation.ID != "":
		err = r.Say(ctx, ev.Message.Text)
	default:
		text := ev.Message.Text
		if text == "" {
			text = stripTags(ev.Message.HTML)
		}
		res.Conversation, err = r.startConversation(ctx, ev.Participant.URI, ev.Conversation.Subject, text)
		if err != nil {
			err = &sendError{err}
		}
	}
	switch {
	case err != nil && retryEvent(err):
		res.Status, res.Error = NotifyQueued, "retrying after: "+err.Error()
		log.WithError(err).Warn("notification not sent yet; trying again after the recovery")
	case err != nil:
		res.Status, res.Error = NotifyFailed, err.Error()
		log.WithError(err).Warn("notification failed")
	default:
		log.WithField("to", ev.Participant.URI).Info("notification sent")
	}
	res.Time = time.Now()
	b, _ := json.Marshal(res)
	if err := a.storeRetry(ctx, "notify result", func() error {
		return a.e.store.SetValue(ctx, a.addr, a.fence(), notifyKey(ev.ID), b, a.e.cfg.DoneTTL)
	}); err != nil {
		log.WithError(err).Warn("notification result not stored")
	}
	if res.Status == NotifyQueued {
		return err
	}
	return nil
}
