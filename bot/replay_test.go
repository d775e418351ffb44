package bot

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/ucwa"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// dyingStore is a store that dies when kill is called: from then on every
// call fails with store.ErrFenced, as if the process had been killed
// there. crash, when set, kills it at the first write it matches ("mark"
// with the mark's key, "complete" for a completion); markFirst says
// whether that write still reaches the store (the process died right
// after writing it) or not (it died right before).
type dyingStore struct {
	store.Store
	crash     func(op, key string) bool
	markFirst bool
	dead      atomic.Bool
	died      chan struct{}
	once      sync.Once
}

func newDyingStore(st store.Store, markFirst bool, crash func(op, key string) bool) *dyingStore {
	return &dyingStore{Store: st, crash: crash, markFirst: markFirst, died: make(chan struct{})}
}

func (s *dyingStore) kill() {
	s.dead.Store(true)
	s.once.Do(func() { close(s.died) })
}

func (s *dyingStore) check() error {
	if s.dead.Load() {
		return store.ErrFenced
	}
	return nil
}

// dies reports whether the write op (key) is where the process dies,
// running write first when markFirst says it still reaches the store.
func (s *dyingStore) dies(op, key string, write func() error) (bool, error) {
	if s.crash == nil || !s.crash(op, key) {
		return false, nil
	}
	if s.markFirst {
		if err := write(); err != nil {
			return true, err
		}
	}
	s.kill()
	return true, store.ErrFenced
}

func (s *dyingStore) Mark(ctx context.Context, account, key string, ttl time.Duration) (bool, error) {
	if err := s.check(); err != nil {
		return false, err
	}
	if died, err := s.dies("mark", key, func() error { _, err := s.Store.Mark(ctx, account, key, ttl); return err }); died {
		return false, err
	}
	return s.Store.Mark(ctx, account, key, ttl)
}

func (s *dyingStore) Unmark(ctx context.Context, account, key string) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.Store.Unmark(ctx, account, key)
}

func (s *dyingStore) LoadState(ctx context.Context, account, conv string) (store.Fields, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.Store.LoadState(ctx, account, conv)
}

func (s *dyingStore) UpdateState(ctx context.Context, account, conv string, fn func(store.Fields) error) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.Store.UpdateState(ctx, account, conv, fn)
}

func (s *dyingStore) DeleteState(ctx context.Context, account, conv string) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.Store.DeleteState(ctx, account, conv)
}

func (s *dyingStore) Conversations(ctx context.Context, account string) ([]string, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.Store.Conversations(ctx, account)
}

func (s *dyingStore) Expired(ctx context.Context, account string, now time.Time) ([]string, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.Store.Expired(ctx, account, now)
}

func (s *dyingStore) Append(ctx context.Context, account string, fence int64, entries []store.Entry) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.Store.Append(ctx, account, fence, entries)
}

func (s *dyingStore) Pending(ctx context.Context, account string, n int, wait time.Duration) ([]store.Entry, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.Store.Pending(ctx, account, n, wait)
}

func (s *dyingStore) AppendBatch(ctx context.Context, account string, fence int64, b store.Batch) (int64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	return s.Store.AppendBatch(ctx, account, fence, b)
}

func (s *dyingStore) Complete(ctx context.Context, account string, c store.Completion) error {
	return s.CompleteBatch(ctx, account, []store.Completion{c})
}

func (s *dyingStore) CompleteBatch(ctx context.Context, account string, cs []store.Completion) error {
	if err := s.check(); err != nil {
		return err
	}
	if died, err := s.dies("complete", "", func() error { return s.Store.CompleteBatch(ctx, account, cs) }); died {
		return err
	}
	return s.Store.CompleteBatch(ctx, account, cs)
}

func (s *dyingStore) Done(ctx context.Context, account, eventID string) (bool, error) {
	if err := s.check(); err != nil {
		return false, err
	}
	return s.Store.Done(ctx, account, eventID)
}

func (s *dyingStore) Len(ctx context.Context, account string) (int64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	return s.Store.Len(ctx, account)
}

func (s *dyingStore) SaveSession(ctx context.Context, account string, fence int64, sess store.Session) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.Store.SaveSession(ctx, account, fence, sess)
}

func (s *dyingStore) LoadSession(ctx context.Context, account string) (store.Session, error) {
	if err := s.check(); err != nil {
		return store.Session{}, err
	}
	return s.Store.LoadSession(ctx, account)
}

func (s *dyingStore) AcquireLease(ctx context.Context, account, owner string, ttl time.Duration) (store.Lease, error) {
	if err := s.check(); err != nil {
		return store.Lease{}, err
	}
	return s.Store.AcquireLease(ctx, account, owner, ttl)
}

func (s *dyingStore) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	if err := s.check(); err != nil {
		return store.Lease{}, err
	}
	return s.Store.RenewLease(ctx, l, ttl)
}

func (s *dyingStore) ReleaseLease(ctx context.Context, l store.Lease) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.Store.ReleaseLease(ctx, l)
}

func (s *dyingStore) LeaseHolder(ctx context.Context, account string) (store.Lease, error) {
	if err := s.check(); err != nil {
		return store.Lease{}, err
	}
	return s.Store.LeaseHolder(ctx, account)
}

func (s *dyingStore) Ping(ctx context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.Store.Ping(ctx)
}

// Close leaves the shared store open: the next engine uses it.
func (s *dyingStore) Close() error { return nil }

// replyPosts watches the bot's sendMessage POSTs. With dying set, the
// first one kills the store and fails without reaching the server, as if
// the process had died right before it; posted counts those that got the
// server's answer.
type replyPosts struct {
	next   http.RoundTripper
	dying  *dyingStore
	posted atomic.Int64
}

func (p *replyPosts) RoundTrip(req *http.Request) (*http.Response, error) {
	reply := req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/messages")
	if reply && p.dying != nil {
		p.dying.kill()
		return nil, errors.New("process died before the POST")
	}
	resp, err := p.next.RoundTrip(req)
	if reply && err == nil && resp.StatusCode < 300 {
		p.posted.Add(1)
	}
	return resp, err
}

func TestEngine_a_crash_between_the_reply_and_its_completion_still_gives_one_reply(t *testing.T) {
	for _, tc := range []struct {
		name       string
		beforePOST bool
		sentFirst  int // replies the server has when the first engine dies
	}{
		// Died before the POST: the server never got the reply, the
		// replay must send it.
		{"before the POST", true, 0},
		// Died after the POST, before the completion was stored: the
		// server has the reply, the replay must not send it again.
		{"after the POST, before the completion", false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := newSim(t, 1)
			st := tempBolt(t)
			cfg := testConfig(sim)
			set := loadRules(t, echoRules)

			posts := &replyPosts{next: http.DefaultTransport}
			dying := newDyingStore(st, false, func(op, _ string) bool { return op == "complete" && posts.posted.Load() > 0 })
			if tc.beforePOST {
				dying.crash = nil
				posts.dying = dying
			}
			e, err := New(cfg, WithStore(dying), WithRules(staticRules{set}), WithLogger(testLogger(t)), WithHTTPClient(&http.Client{Transport: posts}))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- e.Run(ctx) }()
			conv, err := sim.Invite(aliceURI, botURI, "m0")
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-dying.died:
			case <-time.After(15 * time.Second):
				t.Fatalf("the first engine never reached the crash point; bot said %q", botSaid(sim, conv.ID()))
			}
			e.testCrash()
			cancel()
			<-done
			if got := botSaid(sim, conv.ID()); len(got) != tc.sentFirst {
				t.Fatalf("when the first engine died the server had %q; want %d replies", got, tc.sentFirst)
			}

			start(t, cfg, st, set)
			waitReplies(t, sim, conv.ID(), "echo: m0")
			if err := conv.Say(aliceURI, "m1"); err != nil {
				t.Fatal(err)
			}
			waitReplies(t, sim, conv.ID(), "echo: m0", "echo: m1")
		})
	}
}

func TestSentOperations_reads_the_operationId_of_what_the_bot_sent_only(t *testing.T) {
	const body = `{
"_links":{"self":{"href":"/a/events?ack=6"},"next":{"href":"/a/events?ack=7"}},
"sender":[{"rel":"conversation","href":"/a/conversations/c1","events":[
 {"link":{"rel":"message","href":"/a/conversations/c1/messaging/messages/1"},"status":"Success","type":"completed",
  "_embedded":{"message":{"direction":"Incoming","operationId":"not-ours","rel":"message","_links":{"self":{"href":"/a/conversations/c1/messaging/messages/1"}}}}},
 {"link":{"rel":"message","href":"/a/conversations/c1/messaging/messages/2"},"status":"Success","type":"completed",
  "_embedded":{"message":{"direction":"Outgoing","operationId":"ev1-0-1","rel":"message","_links":{"self":{"href":"/a/conversations/c1/messaging/messages/2"}}}}},
 {"link":{"rel":"message","href":"/a/conversations/c1/messaging/messages/3"},"status":"Failure","type":"completed",
  "_embedded":{"message":{"direction":"Outgoing","operationId":"ev1-0-2","rel":"message","_links":{"self":{"href":"/a/conversations/c1/messaging/messages/3"}}}}},
 {"link":{"rel":"message","href":"/a/conversations/c1/messaging/messages/4"},"status":"Success","type":"completed",
  "_embedded":{"message":{"direction":"Outgoing","rel":"message","_links":{"self":{"href":"/a/conversations/c1/messaging/messages/4"}}}}}
]},
{"rel":"communication","href":"/a/communication","events":[
 {"link":{"rel":"messagingInvitation","href":"/a/invitations/i1"},"type":"started",
  "_embedded":{"messagingInvitation":{"direction":"Outgoing","operationId":"ev2-0-1","rel":"messagingInvitation","_links":{"self":{"href":"/a/invitations/i1"}}}}},
 {"link":{"rel":"messagingInvitation","href":"/a/invitations/i2"},"type":"started",
  "_embedded":{"messagingInvitation":{"direction":"Incoming","operationId":"theirs","rel":"messagingInvitation","_links":{"self":{"href":"/a/invitations/i2"}}}}}
]}]}`
	base, _ := url.Parse("https://pool.contoso.com/")
	b, err := ucwa.DecodeBatch([]byte(body), base)
	if err != nil {
		t.Fatal(err)
	}
	got := sentOperations(b)
	want := []string{"ev1-0-1", "ev1-0-2", "ev2-0-1"}
	if !slices.Equal(got, want) {
		t.Fatalf("sentOperations = %q, want %q", got, want)
	}
}

// loseAnswers lets the first n sendMessage POSTs reach the server and
// then loses the answer: a broken connection, or a 502 from a gateway.
type loseAnswers struct {
	next   http.RoundTripper
	n      atomic.Int64
	with   int    // 0: connection error; else this status
	suffix string // of the POSTs whose answers are lost; "" means "/messages"
}

func (l *loseAnswers) RoundTrip(req *http.Request) (*http.Response, error) {
	suffix := l.suffix
	if suffix == "" {
		suffix = "/messages"
	}
	resp, err := l.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, suffix) || l.n.Add(-1) < 0 {
		return resp, err
	}
	resp.Body.Close()
	if l.with == 0 {
		return nil, io.ErrUnexpectedEOF // the connection broke before the answer
	}
	return &http.Response{StatusCode: l.with, Status: http.StatusText(l.with), Header: http.Header{"Content-Type": {"text/html"}},
		Body: io.NopCloser(strings.NewReader("<html>bad gateway</html>")), Request: req}, nil
}

func TestEngine_a_lost_sendMessage_answer_gives_one_reply(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
	}{{"connection dropped after the POST", 0}, {"502 after the POST", http.StatusBadGateway}} {
		t.Run(tc.name, func(t *testing.T) {
			sim := newSim(t, 1)
			set := loadRules(t, echoRules)
			lose := &loseAnswers{next: http.DefaultTransport, with: tc.status}
			lose.n.Store(2)
			e, err := New(testConfig(sim), WithStore(tempBolt(t)), WithRules(staticRules{set}), WithLogger(testLogger(t)), WithHTTPClient(&http.Client{Transport: lose}))
			if err != nil {
				t.Fatal(err)
			}
			r := &running{e: e, obs: newRecorder()}
			r.launch(t)
			conv, err := sim.Invite(aliceURI, botURI, "m0")
			if err != nil {
				t.Fatal(err)
			}
			waitReplies(t, sim, conv.ID(), "echo: m0")
			if err := conv.Say(aliceURI, "m1"); err != nil {
				t.Fatal(err)
			}
			waitReplies(t, sim, conv.ID(), "echo: m0", "echo: m1")
			if lose.n.Load() > 0 {
				t.Fatalf("%d answers were not lost; the test proves nothing", lose.n.Load())
			}
		})
	}
}

// Issue 16: one 404 ApplicationNotFound on sendMessage (a fault of the
// server or a front, the application still there) made the event
// complete without its reply.
func TestEngine_one_ApplicationNotFound_on_sendMessage_still_gives_the_reply(t *testing.T) {
	sim := newSim(t, 1)
	start(t, testConfig(sim), tempBolt(t), loadRules(t, echoRules))
	sim.Inject(ucwasim.Fault{Method: http.MethodPost, Path: "*/messaging/messages", Status: http.StatusNotFound, Subcode: "ApplicationNotFound", Times: 1})
	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: m0")
	if err := conv.Say(aliceURI, "m1"); err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: m0", "echo: m1")
	hit := 0
	for _, f := range sim.Requests() {
		if f.Fault != 0 {
			hit++
		}
	}
	if hit == 0 {
		t.Fatal("the fault never hit; the test proves nothing")
	}
}

// Issue 16: the application is killed as the reply goes out; the
// conversation goes with it. The reply reaches the person as a new IM from
// the new application, once.
func TestEngine_a_reply_whose_application_died_reaches_the_person_as_a_new_IM(t *testing.T) {
	sim := newSim(t, 1)
	start(t, testConfig(sim), tempBolt(t), loadRules(t, echoRules))
	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: m0")
	sim.Inject(ucwasim.Fault{Method: http.MethodPost, Path: "*/messaging/messages", Action: ucwasim.FaultKill, Times: 1})
	if err := conv.Say(aliceURI, "m1"); err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, "", "echo: m0", "echo: m1")
	for _, m := range sim.Sent(botURI) {
		if m.Text == "echo: m1" && m.Conversation == conv.ID() {
			t.Fatal("the reply went to the conversation of the killed application")
		}
	}
}

// Issue 16: an answer larger than the client reads (a 10 MB message) was
// fetched again and again and wedged the event channel. After a few tries
// its events are given up with the application, later messages are
// answered, and the account is not ready meanwhile.
func TestEngine_a_poison_batch_does_not_wedge_the_event_channel(t *testing.T) {
	sim := newSim(t, 1)
	r := start(t, testConfig(sim), tempBolt(t), loadRules(t, echoRules))
	conv, err := sim.Invite(aliceURI, botURI, "m0")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: m0")
	if err := conv.Say(aliceURI, strings.Repeat("x", 10<<20)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the poison_batch alarm", func() bool { return alarmValue(t, r.e, "poison_batch") >= 1 })
	// An invitation sent before the new application is up would go to the
	// one being given up; the account is ready again once it is.
	waitUntil(t, "ready with a new application", func() bool { return r.e.Ready() == nil })
	later, err := sim.Invite(bobURI, botURI, "after")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, later.ID(), "echo: after")
}
