package bot

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/bot/event"
)

// summaryItem matches one item of index.tsv's events_summary:
// sender>rel(in inRel):type[Status].
var summaryItem = regexp.MustCompile(`([^ >]*)>([^(: ]+)(?:\(in ([^)]+)\))?:([a-z]+)(?:\[[^\]]*\])?`)

func TestDecode_agrees_with_every_event_sample_in_the_index(t *testing.T) {
	dir := filepath.Join("..", "ucwa", "testdata", "samples")
	f, err := os.Open(filepath.Join(dir, "index.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	checked := 0
	for line := 0; sc.Scan(); line++ {
		cols := strings.Split(sc.Text(), "\t")
		if line == 0 || len(cols) < 6 || cols[5] == "" || cols[4] != "yes" {
			continue
		}
		name, summary := cols[0], cols[5]
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(body)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := summaryItem.FindAllString(summary, -1)
			if len(got) != len(want) {
				t.Fatalf("Decode gave %d events, index says %d: %q", len(got), len(want), summary)
			}
			for i, w := range want {
				m := summaryItem.FindStringSubmatch(w)
				if m == nil {
					t.Fatalf("index item %q does not parse", w)
				}
				g := got[i]
				if g.Sender != m[1] || g.Rel != m[2] || g.In != m[3] || g.Type != m[4] {
					t.Errorf("event %d = %s>%s(in %s):%s, index says %s", i, g.Sender, g.Rel, g.In, g.Type, w)
				}
				if g.Href == "" {
					t.Errorf("event %d has no href", i)
				}
				if g.Event != "" && !event.Kind(g.Event).Valid() {
					t.Errorf("event %d yields unknown kind %q", i, g.Event)
				}
			}
		})
		checked++
	}
	if checked < 80 {
		t.Fatalf("checked %d samples; the index lists more than 80 event samples", checked)
	}
}

func TestDecode_names_the_domain_event_of_each_sample(t *testing.T) {
	cases := []struct {
		file string
		want []event.Kind
	}{
		{"participantMessaging__event-added__1.json", []event.Kind{event.ParticipantJoined}},
		{"participantMessaging__event-deleted__1.json", []event.Kind{event.ParticipantLeft}},
		{"participantMessaging__event-updated__1.json", []event.Kind{event.ParticipantUpdated}},
		{"messagingInvitation__event-started__1.json", []event.Kind{event.InvitationReceived}},
		{"conversation__event-deleted__1.json", []event.Kind{event.ConversationEnded}},
		{"contactPresence__event-updated__1.json", []event.Kind{event.PresenceChanged}},
		{"presenceSubscription__event-updated__1.json", []event.Kind{event.SubscriptionExpiring}},
		{"ReceiveAnIM__doc-events__6.json", []event.Kind{event.MessageReceived, ""}},
		{"ReceiveAnIM__doc-events-repaired__5.json", []event.Kind{"", "", event.ParticipantJoined, event.ParticipantJoined, "", event.ConversationStarted}},
		{"me__event-updated__1.json", []event.Kind{""}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("..", "ucwa", "testdata", "samples", c.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(body)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d events, want %d", len(got), len(c.want))
			}
			for i := range got {
				if event.Kind(got[i].Event) != c.want[i] {
					t.Errorf("event %d (%s:%s) yields %q, want %q", i, got[i].Rel, got[i].Type, got[i].Event, c.want[i])
				}
			}
		})
	}
}

func TestDecode_rejects_a_malformed_body_saying_where(t *testing.T) {
	_, err := Decode([]byte(`{"sender": [ {"rel": "conversation", "events": [ {"link": 5} ] } ] }`))
	if err == nil {
		t.Fatal("Decode accepted a link that is a number")
	}
	_, err = Decode([]byte(`{"sender": [`))
	if err == nil {
		t.Fatal("Decode accepted a truncated body")
	}
}
