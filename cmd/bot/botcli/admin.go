package botcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ucwabot/ucwabot/bot"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/console"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/ops"
	"github.com/ucwabot/ucwabot/rules"
	"github.com/ucwabot/ucwabot/store"
)

// ruleAdmin shows the reloader's rules to the admin API.
type ruleAdmin struct{ r *rules.Reloader }

func (a ruleAdmin) Rules() ops.RuleSet { return a.info(a.r.Current()) }

func (a ruleAdmin) Reload(context.Context) (ops.RuleSet, error) {
	set, err := a.r.Reload()
	if err != nil {
		return ops.RuleSet{}, err
	}
	return a.info(set), nil
}

// info lists set with the reloader's counters and last error.
func (a ruleAdmin) info(set *rules.Set) ops.RuleSet {
	out := ruleSetInfo(set)
	out.Reloads, out.ReloadFailures = a.r.Reloads(), a.r.Failures()
	if err := a.r.LastError(); err != nil {
		out.LastReloadError = err.Error()
	}
	return out
}

// ruleSetInfo lists a rule set with its counters.
func ruleSetInfo(set *rules.Set) ops.RuleSet { return console.RuleSetInfo(set) }

// conversationAdmin shows the engine's conversations to the admin API.
type conversationAdmin struct{ e *bot.Engine }

func (a conversationAdmin) Conversations(ctx context.Context) ([]ops.Conversation, error) {
	list, err := a.e.Conversations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ops.Conversation, 0, len(list))
	for _, c := range list {
		out = append(out, ops.Conversation{Account: c.Account, ID: c.ID, State: c.State})
	}
	return out, nil
}

func (a conversationAdmin) DropConversation(ctx context.Context, account, id string) error {
	return a.e.DropConversation(ctx, account, id)
}

// notifyAdmin is the engine's notify API as the ops server sees it.
type notifyAdmin struct{ e *bot.Engine }

func (a notifyAdmin) Notify(ctx context.Context, m ops.Message, wait time.Duration) (ops.MessageResult, error) {
	res, err := a.e.Notify(ctx, bot.Notification{
		Account: m.Account, To: m.To, Conversation: m.Conversation,
		Text: m.Text, HTML: m.HTML, Subject: m.Subject, Key: m.IdempotencyKey,
	}, wait)
	return ops.MessageResult(res), notifyError(err)
}

func (a notifyAdmin) Result(ctx context.Context, account, id string) (ops.MessageResult, error) {
	res, err := a.e.NotifyResultOf(ctx, account, id)
	if errors.Is(err, store.ErrNotFound) {
		return ops.MessageResult{}, fmt.Errorf("%w: no message %q (or it is older than engine.done_ttl)", ops.ErrNotFound, id)
	}
	return ops.MessageResult(res), notifyError(err)
}

// notifyError gives err the ops error that chooses its HTTP status.
func notifyError(err error) error {
	var kind error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bot.ErrNotifyInvalid):
		kind = ops.ErrInvalid
	case errors.Is(err, bot.ErrUnknownAccount):
		kind = ops.ErrNotFound
	case errors.Is(err, bot.ErrRateLimited):
		kind = ops.ErrRateLimited
	case errors.Is(err, bot.ErrNoHolder), errors.Is(err, context.DeadlineExceeded):
		kind = ops.ErrUnavailable
	default:
		return err
	}
	return kindError{kind, err}
}

// kindError is err, also matching kind for errors.Is.
type kindError struct{ kind, err error }

func (e kindError) Error() string   { return strings.TrimPrefix(e.err.Error(), "bot: ") }
func (e kindError) Unwrap() []error { return []error{e.kind, e.err} }

// transcriptAdmin is the engine's transcripts as the admin API sees them.
type transcriptAdmin struct{ e *bot.Engine }

func (a transcriptAdmin) Transcripts(ctx context.Context) ([]ops.TranscriptInfo, error) {
	list, err := a.e.Transcripts(ctx)
	out := make([]ops.TranscriptInfo, len(list))
	for i, t := range list {
		out[i] = ops.TranscriptInfo(t)
	}
	return out, err
}

func (a transcriptAdmin) Transcript(ctx context.Context, account, conv string) (ops.TranscriptPage, error) {
	t, err := a.e.TranscriptOf(ctx, account, conv)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ops.TranscriptPage{}, fmt.Errorf("%w: no transcript of %q is kept", ops.ErrNotFound, conv)
	case errors.Is(err, bot.ErrUnknownAccount):
		return ops.TranscriptPage{}, kindError{ops.ErrNotFound, err}
	case err != nil:
		return ops.TranscriptPage{}, err
	}
	p := ops.TranscriptPage{Account: t.Account, Conversation: t.Conversation, Subject: t.Subject, Started: t.Started, Updated: t.Updated, Dropped: t.Dropped}
	for _, e := range t.Entries {
		b, err := json.Marshal(e)
		if err != nil {
			return ops.TranscriptPage{}, err
		}
		p.Entries = append(p.Entries, b)
	}
	return p, nil
}
