package bench

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Outcome is what one conversation shows after a run: the bot's replies
// in its transcript, in order, and the counter in its stored state
// (-1 when the store has no state for it).
type Outcome struct {
	Replies []string
	Counter int
}

// maxReported bounds the problems listed in a verification error.
const maxReported = 10

// Verify checks a run: want maps each conversation to the ids of the
// messages said in it, in order; got maps it to what it shows. Every
// message must have exactly one reply, in order, counting 1..N, and the
// stored counter must be N. The error lists the first problems and how
// many there were.
func Verify(want map[string][]int, got map[string]Outcome) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	convs := make([]string, 0, len(want))
	for c := range want {
		convs = append(convs, c)
	}
	sort.Strings(convs)
	for _, c := range convs {
		ids := want[c]
		o, ok := got[c]
		if !ok {
			add("conversation %s: not found", c)
			continue
		}
		if len(o.Replies) != len(ids) {
			add("conversation %s: %d replies for %d messages", c, len(o.Replies), len(ids))
		}
		for i, text := range o.Replies {
			id, n, err := parseReply(text)
			switch {
			case err != nil:
				add("conversation %s: reply %d %q is not \"[<id>] count=<n>\"", c, i+1, text)
			case i >= len(ids):
				add("conversation %s: reply %d %q answers no message", c, i+1, text)
			case id != ids[i] || n != i+1:
				add("conversation %s: reply %d is %q, want %q", c, i+1, text, replyText(fmt.Sprint(ids[i]), i+1))
			default:
				continue
			}
			break // one problem per conversation's replies is enough
		}
		if o.Counter != len(ids) {
			add("conversation %s: stored counter %d, want %d", c, o.Counter, len(ids))
		}
	}
	for c := range got {
		if _, ok := want[c]; !ok && len(got[c].Replies) > 0 {
			add("conversation %s: %d replies in a conversation the workload did not write in", c, len(got[c].Replies))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	n := len(problems)
	if n > maxReported {
		problems = append(problems[:maxReported], fmt.Sprintf("... and %d more", n-maxReported))
	}
	return errors.New("bench: verification failed: " + fmt.Sprint(n) + " problems:\n" + strings.Join(problems, "\n"))
}
