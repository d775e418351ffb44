package bot

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// transcriptOf returns the kept transcript of the simulator's
// conversation simID.
func transcriptOf(t *testing.T, e *Engine, simID string) (Transcript, error) {
	t.Helper()
	list, err := e.Transcripts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range list {
		if strings.HasSuffix(info.Conversation, "/"+simID) {
			return e.TranscriptOf(context.Background(), "", info.Conversation)
		}
	}
	return Transcript{}, store.ErrNotFound
}

func texts(tr Transcript) []string {
	var out []string
	for _, e := range tr.Entries {
		if e.Text != "" {
			out = append(out, string(e.Kind)+" "+e.Text)
		}
	}
	return out
}

// Issue 12: a transcript survives a restart and disappears after its
// retention; with a retention of 0 nothing is kept.
func TestEngine_a_transcript_survives_a_restart_and_disappears_after_its_retention(t *testing.T) {
	sim := newSim(t, 1)
	path := filepath.Join(t.TempDir(), "bot.db")
	set := loadRules(t, echoRules)
	run := func(retention string, do func(r *running)) {
		t.Helper()
		st := openBolt(t, path)
		defer st.Close()
		cfg := testConfig(sim)
		cfg.TranscriptRetention = parseDuration(t, retention)
		cfg.Handover = HandoverAlways // the next run resumes the application
		r := start(t, cfg, st, set)
		do(r)
		r.stop()
	}
	var conv *ucwasim.Conversation
	run("1h", func(r *running) {
		var err error
		if conv, err = sim.Invite(aliceURI, botURI, "m0"); err != nil {
			t.Fatal(err)
		}
		waitReplies(t, sim, conv.ID(), "echo: m0")
		waitUntil(t, "the transcript of m0", func() bool { tr, _ := transcriptOf(t, r.e, conv.ID()); return len(texts(tr)) == 2 })
	})
	run("1h", func(r *running) {
		tr, err := transcriptOf(t, r.e, conv.ID())
		if err != nil {
			t.Fatalf("after the restart: %v", err)
		}
		want := []string{"message.received m0", "message.sent echo: m0"}
		if got := texts(tr); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("transcript after the restart: %q, want %q", got, want)
		}
		for _, e := range tr.Entries {
			if e.Kind == event.MessageReceived && (e.From != aliceURI || len(e.Rules) != 1 || e.Rules[0] != "echo") {
				t.Fatalf("the first message's entry: %+v", e)
			}
			if e.From == botURI && e.Kind != event.MessageSent {
				t.Errorf("an entry of the bot's own %s", e.Kind)
			}
		}
		joined := false
		for _, e := range tr.Entries {
			joined = joined || e.Kind == event.ParticipantJoined && e.From == aliceURI
		}
		if !joined {
			t.Errorf("no entry for alice joining: %+v", tr.Entries)
		}
		if !strings.Contains(tr.Text(), "Alice Liddell: m0") {
			t.Errorf("rendered transcript:\n%s", tr.Text())
		}
	})
	// A short retention: the next entry gives the transcript a second to
	// live, and it goes.
	run("1s", func(r *running) {
		if err := conv.Say(aliceURI, "m1"); err != nil {
			t.Fatal(err)
		}
		waitReplies(t, sim, conv.ID(), "echo: m0", "echo: m1")
		waitUntil(t, "the transcript to expire", func() bool {
			_, err := transcriptOf(t, r.e, conv.ID())
			return errors.Is(err, store.ErrNotFound)
		})
	})
	// Retention 0 keeps nothing.
	run("0s", func(r *running) {
		other, err := sim.Invite(bobURI, botURI, "secret")
		if err != nil {
			t.Fatal(err)
		}
		waitReplies(t, sim, other.ID(), "echo: secret")
		if list, err := r.e.Transcripts(context.Background()); err != nil || len(list) != 0 {
			t.Fatalf("with retention 0: %v, %v", list, err)
		}
	})
}

// The transcript plugin hands the conversation so far to a person.
func TestEngine_hands_a_transcript_to_a_person(t *testing.T) {
	set := loadBuiltinRules(t, `
rules:
  - name: escalate
    on: [message.received]
    when: 'message.text == "escalate"'
    stop: true
    do:
      - transcript: {to: `+bobURI+`, subject: "Escalated"}
  - name: echo
    on: [message.received]
    do:
      - echo: {prefix: "echo: "}
`)
	sim := newSim(t, 1)
	cfg := testConfig(sim)
	cfg.TranscriptRetention = parseDuration(t, "1h")
	start(t, cfg, tempBolt(t), set)
	conv, err := sim.Invite(aliceURI, botURI, "my printer is on fire")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: my printer is on fire")
	if err := conv.Say(aliceURI, "escalate"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "bob gets the transcript", func() bool {
		for _, s := range saidTo(sim, bobURI) {
			if strings.HasPrefix(s, "Transcript of") && strings.Contains(s, "Alice Liddell: my printer is on fire") && strings.Contains(s, "echo: my printer is on fire") {
				return true
			}
		}
		return false
	})
}

func parseDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A webhook step with transcript: true posts the transcript so far.
func TestEngine_a_webhook_gets_the_transcript(t *testing.T) {
	got := make(chan string, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p handlers.WebhookPayload
		if err := json.NewDecoder(r.Body).Decode(&p); err == nil {
			got <- p.Transcript
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	set := loadBuiltinRules(t, `
rules:
  - name: escalate
    on: [message.received]
    when: 'message.text == "escalate"'
    stop: true
    do:
      - webhook: {url: "`+hook.URL+`", transcript: true, retries: -1}
  - name: echo
    on: [message.received]
    do:
      - echo: {prefix: "echo: "}
`)
	sim := newSim(t, 1)
	cfg := testConfig(sim)
	cfg.TranscriptRetention = time.Hour
	start(t, cfg, tempBolt(t), set)
	conv, err := sim.Invite(aliceURI, botURI, "the printer is on fire")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: the printer is on fire")
	if err := conv.Say(aliceURI, "escalate"); err != nil {
		t.Fatal(err)
	}
	select {
	case tr := <-got:
		if !strings.Contains(tr, "Alice Liddell: the printer is on fire") || !strings.Contains(tr, "echo: the printer is on fire") {
			t.Fatalf("the webhook got the transcript %q", tr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the webhook was not called")
	}
}
