package boltstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/boltstore"
)

const benchBatch = 10

var benchPayload = []byte(`{"rel":"message","href":"/ucwa/oauth/v1/applications/101/communication/conversations/1/messaging/messages/7","_embedded":{"message":{"direction":"Incoming"}}}`)

// cycle moves one batch through the store: Append, Pending, and one
// Complete per event.
func cycle(ctx context.Context, s *boltstore.Store, acct string, seq *int) error {
	batch := make([]store.Entry, benchBatch)
	for i := range batch {
		*seq++
		batch[i] = store.Entry{EventID: "e" + strconv.Itoa(*seq), Conversation: "c" + strconv.Itoa(*seq%50), Payload: benchPayload}
	}
	if err := s.Append(ctx, acct, 0, batch); err != nil {
		return err
	}
	for got := 0; got < benchBatch; {
		es, err := s.Pending(ctx, acct, benchBatch, time.Second)
		if err != nil {
			return err
		}
		for _, e := range es {
			if err := s.Complete(ctx, acct, store.Completion{Entry: e, Set: store.Fields{"last": []byte(`"` + e.EventID + `"`)}, DoneTTL: time.Hour}); err != nil {
				return err
			}
		}
		got += len(es)
	}
	return nil
}

// BenchmarkEvents reports Append+Pending+Complete events per second with
// one worker and with eight (each on its own account), whose writes share
// batches and fsyncs.
func BenchmarkEvents(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			ctx := context.Background()
			s := openTest(b, filepath.Join(b.TempDir(), "bench.db"))
			cycles := (b.N + benchBatch - 1) / benchBatch
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			b.ResetTimer()
			start := time.Now()
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					seq := 0
					for c := w; c < cycles; c += workers {
						if err := cycle(ctx, s, fmt.Sprintf("sip:bot%d@contoso.com", w), &seq); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(cycles*benchBatch)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkFilePerConversation reports the file size per conversation of
// three fields.
func BenchmarkFilePerConversation(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "bench.db")
	s := openTest(b, path)
	const workers = 8
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < b.N; i += workers {
				err := s.UpdateState(ctx, "sip:bot@contoso.com", fmt.Sprintf("19:%08d@thread.skype", i), func(f store.Fields) error {
					f["step"] = []byte(`"asked-name"`)
					f["greeted"] = []byte(`true`)
					f["name"] = []byte(`"Ann Example"`)
					return nil
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Size())/float64(b.N), "file-B/conversation")
}
