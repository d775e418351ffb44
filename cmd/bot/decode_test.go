package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/bot"
	"github.com/ucwabot/ucwabot/bot/event"
)

// summaryItem matches one item of index.tsv's events_summary column:
// sender>rel(in inRel):type[Status] (the same grammar bot/decode_test.go reads).
var summaryItem = regexp.MustCompile(`([^ >]*)>([^(: ]+)(?:\(in ([^)]+)\))?:([a-z]+)(?:\[[^\]]*\])?`)

// eventSamples lists the samples index.tsv marks as valid JSON with events, with their
// events_summary.
func eventSamples(t *testing.T, dir string) [][2]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "index.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var out [][2]string
	for line := 0; sc.Scan(); line++ {
		cols := strings.Split(sc.Text(), "\t")
		if line == 0 || len(cols) < 6 || cols[5] == "" || cols[4] != "yes" {
			continue
		}
		out = append(out, [2]string{cols[0], cols[5]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeBinary_agrees_with_every_event_sample_in_the_index(t *testing.T) {
	dir := filepath.Join("..", "..", "ucwa", "testdata", "samples")
	samples := eventSamples(t, dir)
	if len(samples) < 80 {
		t.Fatalf("index lists %d event samples; it holds more than 80", len(samples))
	}
	for _, s := range samples {
		name, summary := s[0], s[1]
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			r := runBot(t, "", nil, "decode", path)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			var got []bot.DecodedEvent
			for i, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
				if line == "" && r.stdout == "" {
					break
				}
				var m map[string]string
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("line %d %q: %v", i+1, line, err)
				}
				if len(m) != 6 {
					t.Fatalf("line %d %q: %d keys, want sender, rel, type, href, in, event", i+1, line, len(m))
				}
				got = append(got, bot.DecodedEvent{Sender: m["sender"], Rel: m["rel"], Type: m["type"],
					Href: m["href"], In: m["in"], Event: m["event"]})
			}
			want := summaryItem.FindAllString(summary, -1)
			if len(got) != len(want) {
				t.Fatalf("bot decode printed %d events, index says %d: %q\n%s", len(got), len(want), summary, r.stdout)
			}
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lib, err := bot.Decode(body)
			if err != nil || len(lib) != len(got) {
				t.Fatalf("bot.Decode: %d events, %v", len(lib), err)
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
				if g.Href == "" || g.Href != lib[i].Href {
					t.Errorf("event %d href %q, library decodes %q", i, g.Href, lib[i].Href)
				}
				if g.Event != lib[i].Event || (g.Event != "" && !event.Kind(g.Event).Valid()) {
					t.Errorf("event %d kind %q, library says %q", i, g.Event, lib[i].Event)
				}
			}
		})
	}
}

func TestDecodeBinary_malformed_body_is_one_line_error_saying_where(t *testing.T) {
	cases := []struct {
		name, body string
		where      *regexp.Regexp
	}{
		{"truncated", `{"sender": [`, regexp.MustCompile(`offset 12 \(line 1, column 13\)`)},
		{"trailing comma", `{"sender": [ {"rel": "me", "events": [ {"link": {"rel":"x","href":"/a"}, "type": "added"}, ] } ] }`,
			regexp.MustCompile(`offset 92 \(line 1, column 93\)`)},
		{"link is a number", `{"sender": [ {"rel": "conversation", "events": [ {"link": 5} ] } ] }`,
			regexp.MustCompile(`sender\[0\] \(conversation\)\.events\[0\]`)},
		{"not an object", `[1,2]`, regexp.MustCompile(`offset 1 \(line 1, column 2\)`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "body.json")
			if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"decode", path}, {"decode", "-"}} {
				stdin := ""
				what := path
				if args[1] == "-" {
					stdin, what = tc.body, "<stdin>"
				}
				r := runBot(t, stdin, nil, args...)
				if r.code != 1 || r.stdout != "" {
					t.Fatalf("%v: exit %d, stdout %q", args, r.code, r.stdout)
				}
				lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
				if len(lines) != 1 || !strings.HasPrefix(lines[0], "bot decode: "+what+": ") || !tc.where.MatchString(lines[0]) {
					t.Fatalf("%v: stderr %q, want one line naming %s and %s", args, r.stderr, what, tc.where)
				}
			}
		})
	}
}
