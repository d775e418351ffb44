package bot

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// saidTo returns what the bot said in conversations with uri.
func saidTo(sim *ucwasim.Server, uri string) []string {
	var out []string
	for _, c := range sim.Conversations(botURI) {
		with := false
		for _, p := range c.Participants() {
			with = with || strings.EqualFold(p, uri)
		}
		if with {
			out = append(out, botSaid(sim, c.ID())...)
		}
	}
	return out
}

func TestNotify_writes_to_a_person_once_per_idempotency_key(t *testing.T) {
	sim := newSim(t, 1)
	r := start(t, testConfig(sim), tempBolt(t), loadRules(t, echoRules))
	ctx := context.Background()
	n := Notification{To: bobURI, Text: "disk full on db1", Subject: "alert", Key: "alert-42"}
	res, err := r.e.Notify(ctx, n, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != NotifySent || res.ID == "" || res.Account != botURI || res.Conversation == "" {
		t.Fatalf("result %+v: want sent, with id, account and the new conversation", res)
	}
	waitUntil(t, "the alert to reach bob", func() bool { return len(saidTo(sim, bobURI)) == 1 })
	// The poster retries: the same message, the same result, nothing sent.
	again, err := r.e.Notify(ctx, n, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if again != res {
		t.Fatalf("retry result %+v, want the first one %+v", again, res)
	}
	got, err := r.e.NotifyResultOf(ctx, botURI, res.ID)
	if err != nil || got != res {
		t.Fatalf("NotifyResultOf = %+v, %v; want %+v", got, err, res)
	}
	waitReplies(t, sim, "", "disk full on db1")
	if got := saidTo(sim, bobURI); len(got) != 1 || got[0] != "disk full on db1" {
		t.Fatalf("bob got %q, want the alert once", got)
	}
	// The conversation is the one bob is in, and a second notification
	// can go there.
	var conv *ucwasim.Conversation
	for _, c := range sim.Conversations(botURI) {
		if strings.HasSuffix(res.Conversation, "/"+c.ID()) {
			conv = c
		}
	}
	if conv == nil {
		t.Fatalf("result conversation %q is none of the bot's", res.Conversation)
	}
	waitUntil(t, "the conversation connected", func() bool { return conv.State() == "Connected" })
	follow, err := r.e.Notify(ctx, Notification{Conversation: res.Conversation, HTML: "<b>resolved</b>"}, 10*time.Second)
	if err != nil || follow.Status != NotifySent {
		t.Fatalf("follow-up: %+v, %v", follow, err)
	}
	waitReplies(t, sim, conv.ID(), "disk full on db1", "<b>resolved</b>")
}

func TestNotify_refuses_bad_requests_and_keeps_to_its_rate(t *testing.T) {
	sim := newSim(t, 1)
	cfg := testConfig(sim)
	cfg.NotifyRate, cfg.NotifyBurst = 0.001, 2
	r := start(t, cfg, tempBolt(t), loadRules(t, echoRules))
	ctx := context.Background()
	for _, tc := range []struct {
		n    Notification
		want error
		says string
	}{
		{Notification{Text: "x"}, ErrNotifyInvalid, "either to"},
		{Notification{To: bobURI, Conversation: "c", Text: "x"}, ErrNotifyInvalid, "either to"},
		{Notification{To: bobURI}, ErrNotifyInvalid, "either text or html"},
		{Notification{To: "bob", Text: "x"}, ErrNotifyInvalid, "not a SIP URI"},
		{Notification{To: bobURI, Text: strings.Repeat("x", MaxNotifyText+1)}, ErrNotifyInvalid, "longer than"},
		{Notification{To: bobURI, Text: "\xff"}, ErrNotifyInvalid, "UTF-8"},
		{Notification{Account: "sip:other@contoso.com", To: bobURI, Text: "x"}, ErrUnknownAccount, "other@contoso.com"},
	} {
		_, err := r.e.Notify(ctx, tc.n, 0)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("Notify(%+v) = %v; want %v saying %q", tc.n, err, tc.want, tc.says)
		}
	}
	for i, key := range []string{"a", "b", "c"} {
		_, err := r.e.Notify(ctx, Notification{To: bobURI, Text: "m" + key, Key: key}, 0)
		if i < 2 && err != nil {
			t.Fatalf("notification %d within the burst: %v", i, err)
		}
		if i == 2 && !errors.Is(err, ErrRateLimited) {
			t.Fatalf("third notification with a burst of 2: %v, want ErrRateLimited", err)
		}
	}
	// A retry of a queued key is no new message: the limit does not apply.
	if _, err := r.e.Notify(ctx, Notification{To: bobURI, Text: "ma", Key: "a"}, 0); err != nil {
		t.Fatalf("retry of a queued notification: %v", err)
	}
}

// Issue 12: an alert posted to the notify API reaches the person once even
// when the poster retries and the lease holder is killed in between. The
// standby takes the request (any instance may), the holder sends the
// message and dies before it completes the event, the standby takes the
// account over and replays the event without sending again, and the
// poster's retry gets the outcome.
func TestNotify_reaches_a_person_once_across_a_kill_of_the_holder_and_a_retry(t *testing.T) {
	sim := newSim(t, 1)
	prefix := redisPrefix(t)
	set := loadRules(t, echoRules)
	cfgA := testConfig(sim)
	cfgA.InstanceID = "A"
	posts := &replyPosts{next: http.DefaultTransport}
	dying := newDyingStore(openRedis(t, prefix, "A"), false, func(op, _ string) bool { return op == "complete" && posts.posted.Load() > 0 })
	posts.dying = nil
	ea, crashA := crashable(t, cfgA, WithStore(dying), WithRules(staticRules{set}), WithHTTPClient(&http.Client{Transport: startPosts{posts}}))
	waitUntil(t, "A driving the account", func() bool { return ea.Status()[0].Owner })

	cfgB := testConfig(sim)
	cfgB.InstanceID = "B"
	b := start(t, cfgB, openRedis(t, prefix, "B"), set)
	n := Notification{To: bobURI, Text: "db1 is down", Key: "incident-7"}
	res, err := b.e.Notify(context.Background(), n, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != NotifyQueued {
		t.Fatalf("result at once: %+v, want queued", res)
	}
	select {
	case <-dying.died:
	case <-time.After(15 * time.Second):
		t.Fatal("A never sent the alert")
	}
	crashA()

	// The poster did not hear back and retries, while B takes over.
	got, err := b.e.Notify(context.Background(), n, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != NotifySent || got.ID != res.ID {
		t.Fatalf("retry after the kill: %+v, want the first request sent", got)
	}
	waitReplies(t, sim, "", "db1 is down")
	if said := saidTo(sim, bobURI); len(said) != 1 {
		t.Fatalf("bob got %q, want the alert once", said)
	}
}

// startPosts counts startMessaging POSTs (new conversations) in posted.
type startPosts struct{ p *replyPosts }

func (s startPosts) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.p.next.RoundTrip(req)
	if err == nil && req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/messagingInvitations") && resp.StatusCode < 300 {
		s.p.posted.Add(1)
	}
	return resp, err
}

// A notification whose send meets a recoverable failure (the application
// is gone for a moment) is sent after the recovery, not reported failed.
func TestNotify_is_sent_after_a_recoverable_failure(t *testing.T) {
	sim := newSim(t, 1)
	r := start(t, testConfig(sim), tempBolt(t), loadRules(t, echoRules))
	sim.Inject(ucwasim.Fault{Method: http.MethodPost, Rel: "startMessaging", Status: http.StatusNotFound, Subcode: "ApplicationNotFound", Times: 1})
	res, err := r.e.Notify(context.Background(), Notification{To: bobURI, Text: "backup failed", Key: "k-retry"}, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != NotifySent {
		t.Fatalf("result %+v, want sent after the recovery", res)
	}
	waitUntil(t, "bob gets it", func() bool { return len(saidTo(sim, bobURI)) == 1 })
	hit := 0
	for _, q := range sim.Requests() {
		if q.Fault != 0 {
			hit++
		}
	}
	if hit == 0 {
		t.Fatal("the fault never hit; the test proves nothing")
	}
}
