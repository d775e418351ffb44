package ucwa

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleRow is one line of testdata/samples/index.tsv.
type sampleRow struct {
	file, kind, validJSON, summary string
}

func readSampleIndex(t testing.TB) []sampleRow {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "samples", "index.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []sampleRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for first := true; sc.Scan(); first = false {
		if first {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 6 {
			t.Fatalf("index.tsv: short row %q", sc.Text())
		}
		rows = append(rows, sampleRow{file: c[0], kind: c[3], validJSON: c[4], summary: c[5]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) < 300 {
		t.Fatalf("index.tsv: only %d rows", len(rows))
	}
	return rows
}

// summarize renders a batch in the index's events_summary form:
// sender>linkRel(in inRel):type[status], space separated.
func summarize(b *Batch) string {
	var parts []string
	for _, e := range b.Events {
		s := e.Sender + ">" + e.Link.Rel
		if e.In.Rel != "" {
			s += "(in " + e.In.Rel + ")"
		}
		s += ":" + e.Type
		if e.Status != "" {
			s += "[" + e.Status + "]"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func TestSamples(t *testing.T) {
	base, _ := url.Parse("https://lyncweb.contoso.com/ucwa/oauth/v1/applications/104/events?ack=1")
	var events, resources int
	for _, row := range readSampleIndex(t) {
		if row.validJSON != "yes" {
			continue
		}
		body, err := os.ReadFile(filepath.Join("testdata", "samples", row.file))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(row.kind, "events") {
			events++
			b, err := DecodeBatch(body, base)
			if err != nil {
				t.Errorf("%s: %v", row.file, err)
				continue
			}
			if row.summary != "" && summarize(b) != row.summary {
				t.Errorf("%s: events\n got %s\nwant %s", row.file, summarize(b), row.summary)
			}
			if b.Continue() == "" {
				t.Errorf("%s: no next/resync/resume link", row.file)
			}
			checkAbsolute(t, row.file, b)
			continue
		}
		resources++
		if _, err := DecodeResource(body, base); err != nil {
			t.Errorf("%s: %v", row.file, err)
		}
	}
	if events < 15 || resources < 250 {
		t.Fatalf("decoded %d event bodies and %d resources; the index lists more", events, resources)
	}
}

func checkAbsolute(t *testing.T, file string, b *Batch) {
	t.Helper()
	for i, e := range b.Events {
		for _, h := range []string{e.SenderHref, e.Link.Href, e.In.Href, e.Resource.Self()} {
			if h != "" && !strings.HasPrefix(h, "http") {
				t.Errorf("%s: event %d: href %q not absolute", file, i, h)
			}
		}
	}
}

func ExampleDecodeBatch() {
	body := []byte(`{"_links":{"self":{"href":"/app/events?ack=6"},"next":{"href":"/app/events?ack=7"}},
 "sender":[{"rel":"conversation","href":"/app/conversations/eee0","events":[
  {"link":{"rel":"message","href":"/app/conversations/eee0/messaging/messages/2"},"status":"Success","type":"completed",
   "_embedded":{"message":{"direction":"Incoming","_links":{
     "plainMessage":{"href":"data:text/plain;charset=utf-8,Hi+Tosh%0d%0a"}},"rel":"message"}}}]}]}`)
	base, _ := url.Parse("https://fe1.contoso.com/app/events?ack=6")
	b, err := DecodeBatch(body, base)
	if err != nil {
		fmt.Println(err)
		return
	}
	e := b.Events[0]
	_, text, _ := DecodeDataURI(e.Resource.Links.Href("plainMessage"))
	fmt.Printf("%s %s %s %q\n", e.Sender, e.Link.Rel, e.Type, text)
	fmt.Println(b.Continue())
	// Output:
	// conversation message completed "Hi Tosh\r\n"
	// https://fe1.contoso.com/app/events?ack=7
}
