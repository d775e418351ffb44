package ucwa

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

func BenchmarkDecodeBatch(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "samples", "ReceiveAnIM__doc-events-repaired__5.json"))
	if err != nil {
		b.Fatal(err)
	}
	base, _ := url.Parse("https://lyncweb.contoso.com/ucwa/oauth/v1/applications/104/events?ack=5")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBatch(body, base); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeDataURI(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeDataURI("data:text/plain;charset=utf-8,Hi+Tosh%2C+what%27s+up%3F%0d%0a"); err != nil {
			b.Fatal(err)
		}
	}
}
