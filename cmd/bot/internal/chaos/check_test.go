package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

func msgs(pairs ...string) []ucwasim.Message {
	var out []ucwasim.Message
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, ucwasim.Message{From: pairs[i], Text: pairs[i+1], Time: t0.Add(time.Duration(i) * time.Second)})
	}
	return out
}

const alice = "sip:alice@example.com"

func TestCheck_a_clean_transcript_passes(t *testing.T) {
	got := Check(map[string][]ucwasim.Message{
		"c1": msgs(alice, "c1 m1", botURI, "[c1 m1] n=1", alice, "c1 m2", alice, "c1 m3", botURI, "[c1 m2] n=2", botURI, "[c1 m3] n=3"),
		"c2": msgs(alice, "c2 m1", botURI, "[c2 m1] n=1"),
	}, botURI)
	if got.Lost+got.Duplicated+got.Wrong != 0 || got.Delivered != 4 || got.Replies != 4 || got.Conversations != 2 {
		t.Errorf("clean transcript: %+v", got)
	}
}

func TestCheck_finds_a_lost_reply_a_duplicate_and_an_out_of_order_counter(t *testing.T) {
	got := Check(map[string][]ucwasim.Message{
		// m2 never answered.
		"c1": msgs(alice, "c1 m1", botURI, "[c1 m1] n=1", alice, "c1 m2"),
		// m1 answered twice.
		"c2": msgs(alice, "c2 m1", botURI, "[c2 m1] n=1", botURI, "[c2 m1] n=1", alice, "c2 m2", botURI, "[c2 m2] n=2"),
		// m2 answered before m1, the counter follows the answers.
		"c3": msgs(alice, "c3 m1", alice, "c3 m2", botURI, "[c3 m2] n=1", botURI, "[c3 m1] n=2"),
		// the state applied twice: the counter skips 2.
		"c4": msgs(alice, "c4 m1", botURI, "[c4 m1] n=1", alice, "c4 m2", botURI, "[c4 m2] n=3", alice, "c4 m3", botURI, "[c4 m3] n=4"),
	}, botURI)
	if got.Lost != 1 || got.Duplicated != 1 || got.Wrong != 2 {
		t.Fatalf("lost %d, duplicated %d, wrong %d; want 1, 1, 2; findings %+v", got.Lost, got.Duplicated, got.Wrong, got.Findings)
	}
	want := map[string]string{"c1": "has no reply", "c2": "sent 2 times", "c3": "out of order", "c4": "should be n=2"}
	for _, f := range got.Findings {
		if w, ok := want[f.Conversation]; ok && strings.Contains(f.What, w) {
			delete(want, f.Conversation)
		}
	}
	if len(want) > 0 {
		t.Errorf("no finding for %v in %+v", want, got.Findings)
	}
}

func TestCheck_an_undelivered_message_is_not_lost_and_skips_the_counter(t *testing.T) {
	ms := msgs(alice, "c1 m1", botURI, "[c1 m1] n=1", alice, "c1 m2", alice, "c1 m3", botURI, "[c1 m3] n=2")
	ms[2].Undelivered = true
	got := Check(map[string][]ucwasim.Message{"c1": ms}, botURI)
	if got.Lost != 0 || got.Wrong != 0 || got.UndeliveredUnanswered != 1 || got.Undelivered != 1 {
		t.Errorf("%+v", got)
	}
}

func TestRulesYAML_is_a_ladder_of_counter_values(t *testing.T) {
	y := rulesYAML(3)
	for _, w := range []string{`(state.n ?? "0") == "2"`, `n=3`, "overflow"} {
		if !strings.Contains(y, w) {
			t.Errorf("rules lack %s:\n%s", w, y)
		}
	}
}

func TestCheck_a_reply_sent_as_a_new_IM_answers_its_message(t *testing.T) {
	c1 := msgs(alice, "c1 m1", alice, "c1 m2", botURI, "[c1 m2] n=2")
	for i := range c1 {
		c1[i].Conversation = "/conv/1"
	}
	// The first message's reply went out in a conversation of its own,
	// before the second's; another is in no labelled conversation.
	sent := []ucwasim.Message{
		{Conversation: "/conv/new", From: botURI, Text: "[c1 m1] n=1", Time: c1[0].Time.Add(time.Second)},
		{Conversation: "/conv/new2", From: botURI, Text: "[c9 m1] n=1", Time: c1[0].Time},
		c1[2],
	}
	ts := map[string][]ucwasim.Message{"c1": c1}
	if got := Check(ts, botURI); got.Lost != 1 {
		t.Fatalf("without the new IM: lost %d, want 1", got.Lost)
	}
	got := Check(WithNewIMs(ts, map[string]string{"/conv/1": "c1"}, sent), botURI)
	if got.Lost+got.Duplicated+got.Wrong != 0 || got.Replies != 2 {
		t.Errorf("with the new IM: %+v", got)
	}
	if len(ts["c1"]) != 3 {
		t.Errorf("WithNewIMs changed its input: %d messages", len(ts["c1"]))
	}
}

func TestCheck_a_message_said_just_before_an_empty_Redis_restart_is_erased_not_lost(t *testing.T) {
	ms := msgs(alice, "c1 m1", botURI, "[c1 m1] n=1", alice, "c1 m2", alice, "c1 m3")
	restart := ms[2].Time.Add(30 * time.Second) // after m2 (t0+4s) and m3 (t0+6s)
	got := CheckErased(map[string][]ucwasim.Message{"c1": ms}, botURI, []time.Time{restart})
	if got.Lost != 0 || got.Erased != 2 {
		t.Fatalf("lost %d, erased %d; want 0, 2 (%+v)", got.Lost, got.Erased, got.Findings)
	}
	if !strings.Contains(got.Findings[0].What, "erased by the empty Redis restart at") {
		t.Errorf("finding %q does not name the restart", got.Findings[0].What)
	}
	// Long before a restart, or after it, a message without a reply is lost.
	for _, at := range []time.Time{ms[2].Time.Add(ErasedWindow + 10*time.Second), ms[0].Time} {
		if got := CheckErased(map[string][]ucwasim.Message{"c1": ms}, botURI, []time.Time{at}); got.Lost != 2 || got.Erased != 0 {
			t.Errorf("restart at %v: lost %d, erased %d; want 2, 0", at, got.Lost, got.Erased)
		}
	}
}
