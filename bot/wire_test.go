package bot

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/ucwa"
)

// countingWire passes the event path on and remembers what went by.
type countingWire struct {
	next EventWire

	mu      sync.Mutex
	account string
	polls   int
	sent    []string
}

func (w *countingWire) Poll(ctx context.Context, href string, timeout time.Duration) (*ucwa.Batch, error) {
	w.mu.Lock()
	w.polls++
	w.mu.Unlock()
	return w.next.Poll(ctx, href, timeout)
}

func (w *countingWire) SendMessage(ctx context.Context, href, contentType, text, operationID string) (string, error) {
	w.mu.Lock()
	w.sent = append(w.sent, text)
	w.mu.Unlock()
	return w.next.SendMessage(ctx, href, contentType, text, operationID)
}

func TestWithEventWire_carries_the_event_channel_and_every_reply(t *testing.T) {
	sim := newSim(t, 1)
	w := &countingWire{}
	r := start(t, testConfig(sim), tempBolt(t), loadRules(t, echoRules), WithEventWire(func(account string, next EventWire) EventWire {
		w.mu.Lock()
		w.account, w.next = account, next
		w.mu.Unlock()
		return w
	}))
	conv, err := sim.Invite(aliceURI, botURI, "one")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: one")
	if err := conv.Say(aliceURI, "two"); err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: one", "echo: two")
	r.waitReady(t)
	w.mu.Lock()
	defer w.mu.Unlock()
	if !strings.EqualFold(w.account, botURI) {
		t.Errorf("the wire was made for %q, want the account %s", w.account, botURI)
	}
	if w.polls == 0 {
		t.Error("no P-GET went through the wire")
	}
	if strings.Join(w.sent, "|") != "echo: one|echo: two" {
		t.Errorf("replies through the wire = %q, want the two echoes", w.sent)
	}
}
