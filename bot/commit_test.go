package bot

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/store"
)

// countingStore counts the calls the engine makes, by method, and keeps
// the inbox payloads it was given.
type countingStore struct {
	store.Store
	mu       sync.Mutex
	calls    map[string]int
	payloads [][]byte
}

func newCountingStore(st store.Store) *countingStore {
	return &countingStore{Store: st, calls: map[string]int{}}
}

func (s *countingStore) count(m string) {
	s.mu.Lock()
	s.calls[m]++
	s.mu.Unlock()
}

func (s *countingStore) get(m string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[m]
}

func (s *countingStore) LoadState(ctx context.Context, account, conv string) (store.Fields, error) {
	s.count("LoadState")
	return s.Store.LoadState(ctx, account, conv)
}

func (s *countingStore) Mark(ctx context.Context, account, key string, ttl time.Duration) (bool, error) {
	s.count("Mark")
	return s.Store.Mark(ctx, account, key, ttl)
}

func (s *countingStore) Done(ctx context.Context, account, eventID string) (bool, error) {
	s.count("Done")
	return s.Store.Done(ctx, account, eventID)
}

func (s *countingStore) Complete(ctx context.Context, account string, c store.Completion) error {
	s.count("Complete")
	return s.Store.Complete(ctx, account, c)
}

func (s *countingStore) CompleteBatch(ctx context.Context, account string, cs []store.Completion) error {
	s.count("CompleteBatch")
	return s.Store.CompleteBatch(ctx, account, cs)
}

func (s *countingStore) Append(ctx context.Context, account string, fence int64, entries []store.Entry) error {
	s.count("Append")
	return s.Store.Append(ctx, account, fence, entries)
}

func (s *countingStore) AppendBatch(ctx context.Context, account string, fence int64, b store.Batch) (int64, error) {
	s.count("AppendBatch")
	s.mu.Lock()
	for _, e := range b.Entries {
		s.payloads = append(s.payloads, e.Payload)
	}
	s.mu.Unlock()
	return s.Store.AppendBatch(ctx, account, fence, b)
}

func (s *countingStore) SaveSession(ctx context.Context, account string, fence int64, sess store.Session) error {
	s.count("SaveSession")
	return s.Store.SaveSession(ctx, account, fence, sess)
}

// TestEngine_a_conversation_costs_the_store_one_read_and_no_marks checks
// the store work of the event path: the conversation's state is read once
// in the lease tenure, replies take no marks, the bot's own messages
// coming back are not inbox entries, the cursor is saved with the
// batches, and the conversation's links are
// stored once, not with every event.
func TestEngine_a_conversation_costs_the_store_one_read_and_no_marks(t *testing.T) {
	sim := newSim(t, 1)
	st := newCountingStore(tempBolt(t))
	set := loadRules(t, `
rules:
  - name: count
    on: [message.received]
    do:
      - count: {}
      - echo: {prefix: "echo: "}
`)
	start(t, testConfig(sim), st, set)
	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: m0")
	want := []string{"echo: m0"}
	for i := 1; i <= 5; i++ {
		text := fmt.Sprintf("m%d", i)
		if err := conv.Say(aliceURI, text); err != nil {
			t.Fatal(err)
		}
		want = append(want, "echo: "+text)
		waitReplies(t, sim, conv.ID(), want...)
	}
	ctx := context.Background()
	ids, err := st.Store.Conversations(ctx, botURI)
	if err != nil || len(ids) != 1 {
		t.Fatalf("conversations with state = %q, %v; want one", ids, err)
	}
	f, err := st.Store.LoadState(ctx, botURI, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := string(f["count"]); got != "6" {
		t.Errorf("state count = %s after 6 messages, want 6 (the cached state must be what was written)", got)
	}
	if n := st.get("LoadState"); n != 1 {
		t.Errorf("LoadState calls = %d for one conversation, want 1", n)
	}
	if n := st.get("Mark"); n != 0 {
		t.Errorf("Mark calls = %d, want 0: replies and the invitation's answer take no marks", n)
	}
	if n := st.get("Done"); n != 0 {
		t.Errorf("Done calls = %d, want 0: only redelivered entries are checked", n)
	}
	if n := st.get("Complete") + st.get("Append"); n != 0 {
		t.Errorf("per-event Complete/Append calls = %d, want 0 (batch forms only)", n)
	}
	if n := st.get("SaveSession"); n > 1 {
		t.Errorf("SaveSession calls = %d, want at most 1 (the new application): the cursor moves with the batches", n)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	withLinks := 0
	for _, p := range st.payloads {
		if strings.Contains(string(p), `"message.sent"`) {
			t.Errorf("the bot's own message became an inbox entry: %s", p)
		}
		if strings.Contains(string(p), `"sendMessage"`) {
			withLinks++
		}
	}
	if withLinks == 0 || withLinks > 2 {
		t.Errorf("%d of %d inbox payloads carry the conversation's links, want them once (at most twice, as they change when messaging starts)", withLinks, len(st.payloads))
	}
}

func TestEngine_an_ended_conversation_leaves_no_state(t *testing.T) {
	sim := newSim(t, 1)
	st := tempBolt(t)
	set := loadRules(t, `
rules:
  - name: count
    on: [message.received]
    do:
      - count: {}
      - echo: {prefix: "echo: "}
`)
	r := start(t, testConfig(sim), st, set)
	ctx := context.Background()
	ended, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	open, err := sim.Invite(bobURI, botURI, "b0")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, ended.ID(), "echo: m0")
	waitReplies(t, sim, open.ID(), "echo: b0")
	if ids, err := st.Conversations(ctx, botURI); err != nil || len(ids) != 2 {
		t.Fatalf("conversations with state = %q, %v; want two", ids, err)
	}
	if err := ended.HangUp(aliceURI); err != nil {
		t.Fatal(err)
	}
	r.obs.waitFor(t, "conversation.ended", 10*time.Second, hasKind(event.ConversationEnded))
	waitReplies(t, sim, open.ID(), "echo: b0")
	ids, err := st.Conversations(ctx, botURI)
	if err != nil || len(ids) != 1 {
		t.Fatalf("conversations with state after one ended = %q, %v; want only the open one", ids, err)
	}
	f, err := st.LoadState(ctx, botURI, ids[0])
	if err != nil || string(f["count"]) != "1" {
		t.Fatalf("state of the open conversation = %v, %v; want count 1", f, err)
	}
}

// Issue 14: an invitation policy that fails at event time declined
// nothing: the bot accepted. It declines now, and counts it.
func TestEngine_an_invitation_policy_that_fails_declines(t *testing.T) {
	sim := newSim(t, 1)
	set := loadRules(t, `
invitations:
  accept: 'state.profile.domain == "contoso.com"'
rules:
  - name: echo
    on: [message.received]
    do:
      - echo: {prefix: "echo: "}
`)
	start(t, testConfig(sim), tempBolt(t), set)
	if _, err := sim.Invite(aliceURI, botURI, "hello"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the invitation declined", func() bool {
		for _, req := range sim.Requests() {
			if req.Rel == "decline" && req.Method == "POST" && req.Status/100 == 2 {
				return true
			}
		}
		return false
	})
	for _, req := range sim.Requests() {
		if req.Rel == "accept" {
			t.Fatalf("the bot accepted an invitation its failing policy could not judge: %+v", req)
		}
	}
}
