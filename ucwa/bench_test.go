package ucwa

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
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

// BenchmarkDecodeBatchSamples decodes every official sample in turn (MB/s
// over their total size), and a batch of 100 messages like a busy bot's.
func BenchmarkDecodeBatchSamples(b *testing.B) {
	files, err := filepath.Glob(filepath.Join("testdata", "samples", "*__*"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no samples: %v", err)
	}
	base, _ := url.Parse("https://lyncweb.contoso.com/ucwa/oauth/v1/applications/104/events?ack=5")
	var bodies [][]byte
	size := 0
	for _, p := range files {
		body, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeBatch(body, base); err != nil {
			continue // not an event-channel answer
		}
		bodies = append(bodies, body)
		size += len(body)
	}
	for _, dec := range []struct {
		name string
		fn   func([]byte, *url.URL) (*Batch, error)
	}{{"fast", DecodeBatch}, {"encoding_json", decodeBatchStd}} {
		b.Run("samples/"+dec.name, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				for _, body := range bodies {
					if _, err := dec.fn(body, base); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		big := messageBatch(100)
		b.Run("100_messages/"+dec.name, func(b *testing.B) {
			b.SetBytes(int64(len(big)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := dec.fn(big, base); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// messageBatch is an event-channel answer with n incoming messages in
// one conversation, shaped like the simulator's and a real server's.
func messageBatch(n int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"_links":{"self":{"href":"/ucwa/oauth/v1/applications/104/events?ack=5"},"next":{"href":"/ucwa/oauth/v1/applications/104/events?ack=6"}},"sender":[{"rel":"conversation","href":"/ucwa/oauth/v1/applications/104/communication/conversations/c1","events":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"link":{"rel":"message","href":"/ucwa/oauth/v1/applications/104/communication/conversations/c1/messaging/messages/%d"},"_embedded":{"message":{"direction":"Incoming","timeStamp":"/Date(1700000000000)/","operationId":"op-%d","_links":{"self":{"href":"/ucwa/oauth/v1/applications/104/communication/conversations/c1/messaging/messages/%d"},"participant":{"href":"/ucwa/oauth/v1/applications/104/communication/conversations/c1/participants/alice@contoso.com","title":"Alice"},"messaging":{"href":"/ucwa/oauth/v1/applications/104/communication/conversations/c1/messaging"},"plainMessage":{"href":"data:text/plain;charset=utf-8,cmd%d+hello+there"}},"rel":"message"}},"type":"completed"}`, i, i, i, i%50)
	}
	sb.WriteString(`]}]}`)
	return []byte(sb.String())
}
