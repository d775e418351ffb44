package botcli

import (
	"context"

	"github.com/ucwabot/ucwabot/bot"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/console"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/ops"
	"github.com/ucwabot/ucwabot/rules"
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
