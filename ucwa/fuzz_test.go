package ucwa

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addSampleSeeds adds every sample file to the fuzz corpus.
func addSampleSeeds(f *testing.F) [][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "samples", "*__*"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no samples: %v", err)
	}
	var bodies [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	return bodies
}

func FuzzDecodeBatch(f *testing.F) {
	for _, b := range addSampleSeeds(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"_links":{"resync":{"href":"events?ack=1"}},"sender":{"rel":"x","events":{"link":{"rel":"a"}}}}`))
	base, _ := url.Parse("https://fe1.contoso.com/ucwa/oauth/v1/applications/1/events?ack=1")
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := DecodeBatch(body, base)
		if err != nil {
			if b != nil {
				t.Fatal("batch and error")
			}
			return
		}
		_ = b.Continue()
		for _, e := range b.Events {
			_ = e.Succeeded()
			if e.Resource != nil {
				_ = e.Resource.Self()
				_, _ = e.Resource.Time("timeStamp")
			}
		}
		if r, err := DecodeResource(body, base); err == nil {
			_ = r.Self()
		}
	})
}

func FuzzDecodeDataURI(f *testing.F) {
	for _, b := range addSampleSeeds(f) {
		for _, part := range strings.Split(string(b), `"`) {
			if strings.HasPrefix(part, "data:") {
				f.Add(part)
			}
		}
	}
	for _, s := range []string{"data:text/plain;charset=utf-8,Hi+Tosh%0d%0a", "data:text/html;base64,PGI+aGk8L2I+",
		"data:,", "data:;base64,", "data:text/plain;base64,SGk%3D"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mt, text, err := DecodeDataURI(s)
		if err != nil {
			return
		}
		if mt == "" {
			t.Fatalf("%q: empty media type", s)
		}
		if strings.ContainsAny(mt, ",") {
			return
		}
		// What decodes re-encodes to the same text.
		mt2, text2, err := DecodeDataURI(EncodeDataURI(mt, text))
		if err != nil || text2 != text {
			t.Fatalf("round trip of %q (%q): %q %q %v", s, text, mt2, text2, err)
		}
	})
}
