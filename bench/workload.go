package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/plugins"
	"github.com/ucwabot/ucwabot/plugins/builtin"
)

// CountPlugin is the name of the workload's handler plugin: it increments
// the conversation's "count" field and replies "[<id>] count=<n>", <id>
// being the second word of the message. The built-in set and reply cannot
// add one to a number, hence a plugin of the benchmark's own.
const CountPlugin = "bench.count"

// countField is the state field the handler counts in.
const countField = "count"

// registry returns the built-in plugins plus CountPlugin running h (nil:
// count; tests give a faulty one to see the verification fail).
func registry(h handlers.HandlerFunc) *plugins.Registry {
	if h == nil {
		h = count
	}
	r := plugins.NewRegistry()
	builtin.RegisterAll(r)
	r.Register(CountPlugin, plugins.Define(func(struct{}) (handlers.Handler, error) {
		return h, nil
	}))
	return r
}

// count is the workload's handler.
func count(ctx context.Context, req *handlers.Request) error {
	var n int
	if _, err := req.State.Get(countField, &n); err != nil {
		return err
	}
	n++
	if err := req.State.Set(countField, n); err != nil {
		return err
	}
	_, id, ok := strings.Cut(req.Event.Message.Text, " ")
	if !ok {
		return fmt.Errorf("bench.count: message %q has no id", req.Event.Message.Text)
	}
	return req.Reply.Say(ctx, replyText(id, n))
}

// rulesYAML is a rules file of n rules, rule k matching ^cmd<k>\b in any
// case.
func rulesYAML(n int) []byte {
	var b strings.Builder
	b.WriteString("version: 1\nrules:\n")
	for k := 0; k < n; k++ {
		fmt.Fprintf(&b, "  - name: cmd%d\n    on: message.received\n    when: 'message.text matches \"(?i)^cmd%d\\\\b\"'\n    do:\n      - %s: {}\n", k, k, CountPlugin)
	}
	return []byte(b.String())
}

// messageText is the text of message id (a number unique in the run) for
// rule k; every other round of rules is written in upper case, so the
// rules' case-insensitivity is exercised.
func messageText(id, k, rules int) string {
	p := "cmd"
	if (id/rules)%2 == 1 {
		p = "CMD"
	}
	return p + strconv.Itoa(k) + " " + strconv.Itoa(id)
}

// replyText is the handler's reply to message id at count n.
func replyText(id string, n int) string { return "[" + id + "] count=" + strconv.Itoa(n) }

var errNotReply = errors.New("not a reply of the workload")

// parseReply reads "[<id>] count=<n>".
func parseReply(s string) (id, n int, err error) {
	rest, ok := strings.CutPrefix(s, "[")
	if !ok {
		return 0, 0, errNotReply
	}
	ids, cnt, ok := strings.Cut(rest, "] count=")
	if !ok {
		return 0, 0, errNotReply
	}
	if id, err = strconv.Atoi(ids); err != nil {
		return 0, 0, errNotReply
	}
	if n, err = strconv.Atoi(cnt); err != nil {
		return 0, 0, errNotReply
	}
	return id, n, nil
}
