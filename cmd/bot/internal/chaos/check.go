package chaos

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// What people write and what the generated rules answer: "c3 m7" is the
// seventh message of conversation c3, "[c3 m7] n=7" its reply, n being the
// counter kept in the conversation's state.
var (
	userRE  = regexp.MustCompile(`^c(\d+) m(\d+)$`)
	replyRE = regexp.MustCompile(`^\[c(\d+) m(\d+)\] n=(\S+)$`)
)

// userText is the k-th message of conversation c.
func userText(c, k int) string { return fmt.Sprintf("c%d m%d", c, k) }

// Finding is one broken invariant in one conversation.
type Finding struct {
	Conversation string `json:"conversation"` // the label, c<i>
	Message      int    `json:"message"`      // k of the user message concerned
	What         string `json:"what"`
}

// Checked is what the invariant checker found in the transcripts.
type Checked struct {
	Conversations int `json:"conversations"`
	Delivered     int `json:"delivered"`   // user messages in the transcripts
	Undelivered   int `json:"undelivered"` // of them, marked undelivered by the simulator
	Replies       int `json:"replies"`
	Lost          int `json:"lost"` // delivered user messages without a reply
	// UndeliveredUnanswered are messages without a reply that the simulator
	// marked undelivered (their sender was told): not lost by the bot, but
	// time the account was not served.
	UndeliveredUnanswered int `json:"undelivered_unanswered"`
	// Erased are messages without a reply said shortly before Redis
	// restarted empty (no appendonly): the restart erased the inbox entry
	// or the cursor that held them. Counted apart from Lost; each is named
	// in the findings with the restart.
	Erased     int       `json:"erased_by_empty_restart"`
	Duplicated int       `json:"duplicated"` // replies beyond the first to one message
	Wrong      int       `json:"wrong"`      // replies with a wrong counter or out of order
	Findings   []Finding `json:"findings,omitempty"`
}

// Check applies the invariants to the transcripts, keyed by the
// conversation's label (c<i>). A message of bot is a reply; every other
// author is a person.
//
//   - every delivered user message has a reply (else: lost; a message the
//     simulator marked undelivered is counted apart);
//   - no user message has two replies (else: duplicated);
//   - the replies count 1, 2, 3, ... in the order they were sent, each
//     after its message and after the reply to an earlier message (else:
//     wrong, once per break in the count: the state was applied twice,
//     without its reply, or out of order).
func Check(transcripts map[string][]ucwasim.Message, bot string) Checked {
	return CheckErased(transcripts, bot, nil)
}

// ErasedWindow is how long before an empty Redis restart a message may
// have been said for the restart to have erased it: the time it can spend
// between its delivery and its completion when the store pauses and the
// lease moves (lease TTL, takeover, replay) before the restart's stop.
const ErasedWindow = time.Minute

// CheckErased is Check for a run in which Redis restarted empty at the
// times in erasures: a message without a reply said within ErasedWindow
// before one of them counts as Erased, not Lost.
func CheckErased(transcripts map[string][]ucwasim.Message, bot string, erasures []time.Time) Checked {
	var r Checked
	labels := make([]string, 0, len(transcripts))
	for l := range transcripts {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, label := range labels {
		r.Conversations++
		add := func(k int, format string, args ...any) {
			if len(r.Findings) < 200 {
				r.Findings = append(r.Findings, Finding{Conversation: label, Message: k, What: fmt.Sprintf(format, args...)})
			}
		}
		said := map[int]bool{}
		undelivered := map[int]bool{}
		at := map[int]time.Time{}
		replies := map[int]int{}
		lastReplied, expect := 0, 1
		for _, m := range transcripts[label] {
			if m.From != bot {
				sm := userRE.FindStringSubmatch(m.Text)
				if sm == nil || "c"+sm[1] != label {
					continue
				}
				k, _ := strconv.Atoi(sm[2])
				said[k] = true
				at[k] = m.Time
				r.Delivered++
				if m.Undelivered {
					r.Undelivered++
					undelivered[k] = true
				}
				continue
			}
			sm := replyRE.FindStringSubmatch(m.Text)
			if sm == nil {
				continue
			}
			r.Replies++
			k, _ := strconv.Atoi(sm[2])
			if "c"+sm[1] != label {
				r.Wrong++
				add(k, "reply %q in the wrong conversation", m.Text)
				continue
			}
			replies[k]++
			if replies[k] > 1 {
				r.Duplicated++
				add(k, "reply %q sent %d times", m.Text, replies[k])
				continue
			}
			n, nerr := strconv.Atoi(sm[3])
			switch {
			case !said[k]:
				r.Wrong++
				add(k, "reply %q before its message", m.Text)
			case nerr != nil || n != expect:
				// One wrong per break in the count: the next reply is
				// checked against this one's counter.
				r.Wrong++
				add(k, "reply %q: the counter should be n=%d after the replies before it", m.Text, expect)
			case k < lastReplied:
				r.Wrong++
				add(k, "reply %q after the reply to m%d: out of order", m.Text, lastReplied)
			}
			if k > lastReplied {
				lastReplied = k
			}
			expect = max(expect, n) + 1
		}
		ks := make([]int, 0, len(said))
		for k := range said {
			ks = append(ks, k)
		}
		sort.Ints(ks)
		for _, k := range ks {
			if replies[k] > 0 {
				continue
			}
			if undelivered[k] {
				r.UndeliveredUnanswered++
				continue
			}
			if e, ok := erasedBy(at[k], erasures); ok {
				r.Erased++
				add(k, "message %q said at %s has no reply: erased by the empty Redis restart at %s", userText(mustAtoi(label[1:]), k), clock(at[k]), clock(e))
				continue
			}
			r.Lost++
			add(k, "message %q said at %s has no reply", userText(mustAtoi(label[1:]), k), clock(at[k]))
		}
	}
	return r
}

// WithNewIMs adds to each labelled transcript the bot's replies to its
// messages that went out in conversations of their own (sent, every
// message the bot sent): a reply whose conversation was gone, an
// invitation's first message that the bot could no longer accept, is
// sent as a new IM. ids maps a labelled conversation's id to its label.
// Each transcript stays in the order of the time its messages were said.
func WithNewIMs(transcripts map[string][]ucwasim.Message, ids map[string]string, sent []ucwasim.Message) map[string][]ucwasim.Message {
	out := make(map[string][]ucwasim.Message, len(transcripts))
	for l, t := range transcripts {
		out[l] = t
	}
	added := map[string]bool{}
	for _, m := range sent {
		if _, labelled := ids[m.Conversation]; labelled {
			continue
		}
		sm := replyRE.FindStringSubmatch(m.Text)
		if sm == nil {
			continue
		}
		label := "c" + sm[1]
		t, ok := out[label]
		if !ok {
			continue
		}
		if !added[label] {
			t = append([]ucwasim.Message(nil), t...)
			added[label] = true
		}
		out[label] = append(t, m)
	}
	for l := range added {
		sort.SliceStable(out[l], func(i, j int) bool { return out[l][i].Time.Before(out[l][j].Time) })
	}
	return out
}

// erasedBy returns the first empty restart within ErasedWindow after t.
func erasedBy(t time.Time, erasures []time.Time) (time.Time, bool) {
	for _, e := range erasures {
		if !t.After(e) && e.Sub(t) <= ErasedWindow {
			return e, true
		}
	}
	return time.Time{}, false
}

func clock(t time.Time) string { return t.UTC().Format("15:04:05.000") }

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// rulesYAML is the echo rule set: a ladder of rules, one per counter
// value, since templates have no arithmetic. The counter is a string in
// the state so that it compares the same after a round trip through the
// store.
func rulesYAML(max int) string {
	b := []byte("version: 1\nrules:\n")
	for k := 1; k <= max; k++ {
		prev := `"` + strconv.Itoa(k-1) + `"`
		b = fmt.Appendf(b, `  - name: n%d
    on: message.received
    when: '(state.n ?? "0") == %s'
    stop: true
    do:
      - set: {templates: {n: "%d"}}
      - reply: {text: "[{{.Message.Text}}] n=%d"}
`, k, prev, k, k)
	}
	b = fmt.Appendf(b, `  - name: overflow
    on: message.received
    when: 'true'
    do:
      - reply: {text: "[{{.Message.Text}}] n=over"}
`)
	return string(b)
}
