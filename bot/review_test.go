package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/rules"
	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/ucwa"
)

// offlineEngine builds an engine over st that is never run: its accounts'
// parts are exercised directly.
func offlineEngine(t *testing.T, st store.Store) (*Engine, *account) {
	t.Helper()
	cfg := Config{
		Accounts:     []Account{{Address: botURI, DiscoveryURL: "http://127.0.0.1:1/autodiscover", InsecureHTTP: true, Password: botPW}},
		PollTimeout:  3 * time.Second,
		LeaseTTL:     time.Second,
		DrainTimeout: 3 * time.Second,
		BackoffMax:   20 * time.Millisecond,
		DoneTTL:      time.Hour,
	}
	e, err := New(cfg, WithStore(st), WithRules(staticRules{}))
	if err != nil {
		t.Fatal(err)
	}
	return e, e.accounts[0]
}

const cooldownRules = `
rules:
  - name: greet
    on: [message.received]
    cooldown: {window: 1h, per: [conversation]}
    do:
      - echo: {prefix: "hello "}
`

func TestCooldown_a_replayed_event_fires_again_and_another_event_is_suppressed(t *testing.T) {
	_, a := offlineEngine(t, tempBolt(t))
	set := loadRules(t, cooldownRules)
	ctx := context.Background()
	eval := func(id string) int {
		ev := &event.Event{ID: id, Kind: event.MessageReceived, Account: botURI,
			Conversation: event.Conversation{ID: "/conv/1"}, Message: event.Message{Text: "hi", Direction: "Incoming"}}
		ms, err := set.Eval(ctx, &rules.Input{Event: ev, Bot: rules.Bot{Account: botURI}, Now: time.Now()}, marker{a: a, event: id})
		if err != nil {
			t.Fatalf("eval %s: %v", id, err)
		}
		return len(ms)
	}
	if n := eval("ev-1"); n != 1 {
		t.Fatalf("first evaluation fired %d rules, want 1", n)
	}
	// The process died after the evaluation: the replay must fire again.
	if n := eval("ev-1"); n != 1 {
		t.Fatalf("replayed evaluation fired %d rules, want 1 (reply lost)", n)
	}
	if n := eval("ev-2"); n != 0 {
		t.Fatalf("another event within the window fired %d rules, want 0", n)
	}
	if n := eval("ev-2"); n != 0 {
		t.Fatalf("another event evaluated again fired %d rules, want 0", n)
	}
}

func TestTranslate_fails_the_batch_when_an_invitation_cannot_be_read(t *testing.T) {
	inv := ucwa.Event{Sender: relCommunication, Type: "started",
		Link: ucwa.Link{Rel: relMessagingInvitation, Href: "/ucwa/v1/applications/1/communication/messagingInvitations/9"}}
	b := &ucwa.Batch{Self: "/events?ack=1", Events: []ucwa.Event{inv}}

	down := errors.New("connection refused")
	tr := newTranslator(botURI, newLinkCache(), func(context.Context, string) (*ucwa.Resource, error) { return nil, down })
	envs, err := tr.translate(context.Background(), b)
	if !errors.Is(err, errFetch) || !errors.Is(err, down) || len(envs) != 0 {
		t.Fatalf("translate = %d events, %v; want errFetch wrapping the cause", len(envs), err)
	}

	gone := &ucwa.Error{Status: 404}
	tr = newTranslator(botURI, newLinkCache(), func(context.Context, string) (*ucwa.Resource, error) { return nil, gone })
	if envs, err := tr.translate(context.Background(), b); err != nil || len(envs) != 0 {
		t.Fatalf("translate of a gone invitation = %d events, %v; want none and no error", len(envs), err)
	}
}

func TestTranslate_forgets_the_participants_of_an_ended_conversation(t *testing.T) {
	tr := newTranslator(botURI, newLinkCache(), nil)
	conv := "/ucwa/v1/applications/1/communication/conversations/c1"
	tr.participants[conv+"/participants/alice@contoso.com"] = event.Participant{URI: aliceURI}
	tr.participants["/ucwa/v1/applications/1/communication/conversations/c2/participants/bob@contoso.com"] = event.Participant{URI: bobURI}
	ended := ucwa.Event{Sender: relCommunication, Type: "deleted", Link: ucwa.Link{Rel: relConversation, Href: conv}}
	envs, err := tr.translate(context.Background(), &ucwa.Batch{Self: "/events?ack=2", Events: []ucwa.Event{ended}})
	if err != nil || len(envs) != 1 || envs[0].Event.Kind != event.ConversationEnded {
		t.Fatalf("translate = %+v, %v; want one conversation.ended", envs, err)
	}
	if len(tr.participants) != 1 {
		t.Fatalf("participants after the end = %v, want only c2's", tr.participants)
	}
}

func TestPGetReplaced_with_the_store_down_stands_by_without_an_alarm(t *testing.T) {
	st := tempBolt(t)
	e, a := offlineEngine(t, st)
	st.Close()
	_, err := a.recoverPoll(context.Background(), e.newBackoff(), "/events?ack=3", &ucwa.Error{Status: 409, Subcode: "PGetReplaced"})
	if !errors.Is(err, errLeaseLost) || errors.Is(err, errReplaced) {
		t.Fatalf("recoverPoll = %v, want lease lost (stand by), not replaced", err)
	}
	if v := alarmValue(t, e, "pget_replaced"); v != 0 {
		t.Fatalf("pget_replaced alarms = %v, want 0", v)
	}
}

func TestComplete_refused_with_ErrFenced_ends_the_lease_tenure(t *testing.T) {
	st := tempBolt(t)
	_, a := offlineEngine(t, st)
	ctx := context.Background()
	old, err := st.AcquireLease(ctx, a.addr, "old", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ReleaseLease(ctx, old); err != nil {
		t.Fatal(err)
	}
	cur, err := st.AcquireLease(ctx, a.addr, "new", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	entries := []store.Entry{{EventID: "ev", Conversation: "/conv/1", Payload: []byte(`{}`)}}
	if err := st.Append(ctx, a.addr, cur.Token, entries); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	a.mu.Lock()
	a.lease = old
	a.stopDrive = func() { cancel(errLeaseLost) }
	a.mu.Unlock()
	written := true
	a.commits.submit(ctx, completion{c: store.Completion{Entry: entries[0], Fence: a.fence()}, after: func(ok bool) { written = ok }})
	if written {
		t.Fatal("a completion with a stale fence was written")
	}
	if !errors.Is(context.Cause(dctx), errLeaseLost) {
		t.Fatalf("drive context cause = %v, want lease lost", context.Cause(dctx))
	}
}

func TestDroppedJobs_leave_nothing_in_flight(t *testing.T) {
	_, a := offlineEngine(t, tempBolt(t))
	q := a.e.q
	for _, id := range []string{"1-0", "2-0"} {
		a.inflight[id] = true
		q.push(a.addr+"\x00c1", job{acct: a, entry: store.Entry{ID: id}})
	}
	a.finish(q.dropAccount(a)...)
	if n := a.inflightLen(); n != 0 {
		t.Fatalf("in flight after the drop = %d, want 0", n)
	}
	if !a.waitInflight(context.Background(), time.Hour) {
		t.Fatal("waitInflight reported unfinished work")
	}
}

func TestWaitInflight_wakes_on_finish_and_on_ctx(t *testing.T) {
	_, a := offlineEngine(t, tempBolt(t))
	a.inflight["1-0"] = true
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if a.waitInflight(ctx, time.Hour) {
		t.Fatal("waitInflight reported done with work in flight")
	}
	done := make(chan bool)
	go func() { done <- a.waitInflight(context.Background(), time.Hour) }()
	a.finish("1-0")
	if !<-done {
		t.Fatal("waitInflight did not see the work finish")
	}
}

func TestReady_counts_an_outstanding_PGET_as_healthy(t *testing.T) {
	_, a := offlineEngine(t, tempBolt(t))
	a.mu.Lock()
	a.state, a.owner = stateRunning, true
	a.mu.Unlock()
	if err := a.ready(); err == nil {
		t.Fatal("ready without any P-GET in the tenure")
	}
	a.notePoll(time.Now(), false)
	if err := a.ready(); err != nil {
		t.Fatalf("ready with a fresh outstanding P-GET: %v", err)
	}
	a.notePoll(time.Now().Add(-a.e.cfg.PollTimeout-2*time.Minute), false)
	if err := a.ready(); err == nil {
		t.Fatal("ready with a P-GET outstanding past the grace")
	}
}

func TestEngine_keeps_no_password(t *testing.T) {
	cfg := Config{Accounts: []Account{{Address: botURI, DiscoveryURL: "http://127.0.0.1:1/autodiscover", InsecureHTTP: true, Password: botPW}}}
	e, err := New(cfg, WithStore(tempBolt(t)), WithRules(staticRules{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e), fmt.Sprintf("%+v", e.accounts[0]), fmt.Sprintf("%+v", e.cfg)} {
		if strings.Contains(s, botPW) {
			t.Fatalf("formatted engine shows the password: %s", s)
		}
	}
	if cfg.Accounts[0].Password != botPW {
		t.Fatal("New changed the caller's configuration")
	}
}

func TestDropConversation_matches_the_account_in_any_case(t *testing.T) {
	st := tempBolt(t)
	e, a := offlineEngine(t, st)
	ctx := context.Background()
	a.links.update("/conv/9", func(*convLinks) {})
	if err := e.DropConversation(ctx, "SIP:Bot@Contoso.com", "/conv/9"); err != nil {
		t.Fatalf("drop: %v", err)
	}
	if err := e.DropConversation(ctx, "bot@contoso.com", "/conv/9"); err != nil {
		t.Fatalf("drop without sip: %v", err)
	}
	if a.links.len() != 0 {
		t.Fatal("links kept")
	}
	if err := e.DropConversation(ctx, "other@contoso.com", "/conv/9"); !errors.Is(err, ErrUnknownAccount) {
		t.Fatalf("drop of an unknown account = %v", err)
	}
}

func TestWatch_keeps_at_most_maxWatched_contacts_dropping_the_oldest(t *testing.T) {
	e, err := New(Config{Accounts: []Account{{Address: "sip:bot@contoso.com", Password: "pw", DiscoveryURL: "http://127.0.0.1:1/", InsecureHTTP: true}}}, WithStore(tempBolt(t)), WithRules(staticRules{loadRules(t, echoRules)}))
	if err != nil {
		t.Fatal(err)
	}
	a := e.accounts[0]
	for i := 0; i <= maxWatched; i++ {
		a.watch(fmt.Sprintf("sip:user%d@contoso.com", i))
	}
	a.watch("sip:user5@contoso.com") // already watched: no change
	if len(a.extra) != maxWatched || a.extra[0] != "sip:user1@contoso.com" || a.extra[maxWatched-1] != fmt.Sprintf("sip:user%d@contoso.com", maxWatched) {
		t.Fatalf("%d watched, first %s, last %s", len(a.extra), a.extra[0], a.extra[len(a.extra)-1])
	}
}
