package boltstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ucwabot/ucwabot/store"
	"github.com/ucwabot/ucwabot/store/boltstore"
)

// An event's path: the poller appends a batch under the account's lease, a
// worker takes it from the inbox and completes it with its state change.
func Example() {
	dir, err := os.MkdirTemp("", "ucwabot")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := boltstore.Open(filepath.Join(dir, "ucwabot.db"), boltstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	const acct = "sip:bot@contoso.com"
	lease, err := s.AcquireLease(ctx, acct, "instance-1", 15*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	batch := []store.Entry{{EventID: "ev-1", Conversation: "conv-1", Payload: []byte(`{"text":"hi"}`)}}
	if err := s.Append(ctx, acct, lease.Token, batch); err != nil {
		log.Fatal(err)
	}
	entries, err := s.Pending(ctx, acct, 10, time.Second)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		err := s.Complete(ctx, acct, store.Completion{
			Entry: e, Set: store.Fields{"greeted": json.RawMessage(`true`)},
			Fence: lease.Token, DoneTTL: 24 * time.Hour,
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	state, _ := s.LoadState(ctx, acct, "conv-1")
	done, _ := s.Done(ctx, acct, "ev-1")
	fmt.Println(string(state["greeted"]), done)
	// Output: true true
}
