package ucwasim

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sameAsEncodingJSON fails when marshal and encoding/json disagree on v.
func sameAsEncodingJSON(t *testing.T, what string, v any) {
	t.Helper()
	want, werr := json.Marshal(v)
	got, gerr := marshal(v)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%s: error %v, encoding/json's %v", what, gerr, werr)
	}
	if werr == nil && !bytes.Equal(got, want) {
		t.Fatalf("%s:\n got %s\nwant %s", what, got, want)
	}
}

func TestMarshal_writes_the_official_samples_as_encoding_json_does(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "samples", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			continue // a sample that is not JSON on its own (a trace)
		}
		sameAsEncodingJSON(t, filepath.Base(f), v)
	}
}

func TestMarshal_writes_the_simulators_shapes_as_encoding_json_does(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "plain", `quo"te`, `back\slash`, "<b>&amp;</b>", "tab\tnew\nline", "\x01\x1f", "café", "\u2028\u2029", "\xff\xfe", "😀", "https://contoso.com/ucwa/oauth/v1/applications/1/communication?x=1&y=2"}
	var value func(depth int) any
	value = func(depth int) any {
		switch n := rng.IntN(11); {
		case depth > 3 || n < 3:
			return strs[rng.IntN(len(strs))]
		case n == 3:
			return rng.IntN(2) == 0
		case n == 4:
			return rng.IntN(1<<40) - 1<<39
		case n == 5:
			return rng.Float64() * 1e6
		case n == 6:
			m := map[string]any{}
			for i := rng.IntN(6); i > 0; i-- {
				m[strs[rng.IntN(len(strs))]+strings.Repeat("k", rng.IntN(3))] = value(depth + 1)
			}
			if rng.IntN(4) == 0 {
				return event(m)
			}
			return m
		case n == 7:
			var s []map[string]any
			for i := rng.IntN(3); i > 0; i-- {
				s = append(s, map[string]any{"href": strs[rng.IntN(len(strs))], "n": value(depth + 1)})
			}
			return s
		case n == 8:
			var s []any
			for i := rng.IntN(4); i > 0; i-- {
				s = append(s, value(depth+1))
			}
			return s
		case n == 9:
			return map[string]string{"a": "b<"} // left to encoding/json
		default:
			return nil
		}
	}
	for i := 0; i < 5000; i++ {
		sameAsEncodingJSON(t, "random value", value(0))
	}
	var nilMap map[string]any
	var nilSlice []any
	var nilMaps []map[string]any
	for _, v := range []any{nilMap, nilSlice, nilMaps, event(nil), []event{{"a": 1}, nil}, map[string]any{"f": func() {}}} {
		sameAsEncodingJSON(t, "edge value", v)
	}
}

func BenchmarkMarshal_event_batch(b *testing.B) {
	body := map[string]any{"_links": map[string]any{"self": lk("/ucwa/v1/applications/1/events?ack=3"), "next": lk("/ucwa/v1/applications/1/events?ack=4")}}
	var evs []event
	for i := 0; i < 20; i++ {
		evs = append(evs, event{"link": lkt("/ucwa/v1/applications/1/communication/conversations/c1/messaging/messages/"+strings.Repeat("9", 6), "message"), "type": "added",
			"_embedded": map[string]any{"message": map[string]any{"direction": "Incoming", "timeStamp": "/Date(1480000000000)/", "operationId": "op-1",
				"_links": map[string]any{"self": lk("/a/b/c"), "participant": lkt("/a/b/participants/sip:x@contoso.com", "X"), "messaging": lk("/a/b/messaging"), "plainMessage": lk("data:text/plain;charset=utf-8,cmd1%20hello")}}}})
	}
	body["sender"] = []map[string]any{{"rel": "communication", "href": "/ucwa/v1/applications/1/communication", "events": evs}}
	for _, enc := range []struct {
		name string
		f    func(any) ([]byte, error)
	}{{"encoding_json", json.Marshal}, {"marshal", marshal}} {
		b.Run(enc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := enc.f(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
