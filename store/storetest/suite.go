// Package storetest is the conformance suite every store.Store passes.
// An implementation's test calls Run with a constructor:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... })
//	}
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/store"
)

// NewStore returns a store for test t. The first call for a t returns a
// store on fresh, empty storage that is removed when t ends. A second call
// with the same t opens the same storage again, as a restarted process
// would; the suite closes the first store before, and the constructor must
// tolerate Close being called again from its own cleanup.
//
// The store's state TTL must be positive and shorter than 30 days.
type NewStore = func(t *testing.T) store.Store

// Run runs the conformance suite against the stores newStore returns. The
// tests run in parallel, each on its own storage.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newStore NewStore)
	}{
		{"state_round_trip", testStateRoundTrip},
		{"empty_state_is_not_an_error", testEmptyState},
		{"update_state_error_writes_nothing", testUpdateStateError},
		{"concurrent_updates_lose_nothing", testConcurrentUpdates},
		{"delete_state", testDeleteState},
		{"conversations_lists_those_with_state", testConversations},
		{"expired_removes_and_returns_stale_conversations", testExpired},
		{"accounts_are_isolated", testAccountsIsolated},
		{"inbox_keeps_append_order", testInboxOrder},
		{"append_skips_done_and_queued_events", testAppendDedupe},
		{"pending_waits_for_an_append", testPendingWaits},
		{"pending_delivers_each_entry_once", testPendingOnce},
		{"pending_ends_when_ctx_is_cancelled", testPendingCancel},
		{"pending_replays_uncompleted_entries_after_reopen", testPendingReplay},
		{"pending_replays_after_taking_its_own_lease_again", testPendingReplaysAfterOwnReacquire},
		{"complete_writes_entry_done_mark_and_state", testComplete},
		{"complete_with_stale_fence_writes_nothing", testCompleteFenced},
		{"writes_after_takeover_are_fenced", testWritesFenced},
		{"append_batch_writes_entries_marks_and_cursor", testAppendBatch},
		{"append_batch_with_stale_fence_writes_nothing", testAppendBatchFenced},
		{"complete_batch_applies_a_group_in_order", testCompleteBatch},
		{"complete_batch_with_stale_fence_writes_nothing", testCompleteBatchFenced},
		{"pending_marks_redelivered_entries", testPendingMarksRedelivered},
		{"complete_forget_removes_the_ended_conversation", testCompleteForget},
		{"marks_expire", testMarks},
		{"values_round_trip_expire_and_are_fenced", testValues},
		{"timers_come_due_in_order_and_are_fenced", testTimers},
		{"session_round_trip", testSessions},
		{"session_holds_no_secret", testSessionNoSecret},
		{"lease_acquire_and_held", testLeaseHeld},
		{"lease_renew_and_release", testLeaseRenewRelease},
		{"lease_expiry_takeover_grows_token", testLeaseTakeover},
		{"fence_tokens_grow_after_data_loss", testFenceAfterDataLoss},
		{"ping", testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore)
		})
	}
}

var accountSeq atomic.Int64

// account returns an account address unique to this run.
func account() string {
	return fmt.Sprintf("sip:bot%d@contoso.com", accountSeq.Add(1))
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func raw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// sameJSON compares two JSON values by meaning.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

func assertFields(t *testing.T, got, want store.Fields) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("fields = %s, want %s", dump(got), dump(want))
	}
	for k, v := range want {
		if !sameJSON(got[k], v) {
			t.Fatalf("fields = %s, want %s", dump(got), dump(want))
		}
	}
}

func dump(f store.Fields) string {
	b, _ := json.Marshal(f)
	return string(b)
}

func entry(eventID, conv string) store.Entry {
	return store.Entry{EventID: eventID, Conversation: conv, Payload: []byte(`{"event":"` + eventID + `"}`)}
}

func eventIDs(es []store.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.EventID
	}
	return out
}

// drain reads pending entries without waiting until none is left.
func drain(t *testing.T, ctx context.Context, s store.Store, acct string) []store.Entry {
	t.Helper()
	var all []store.Entry
	for i := 0; i < 100; i++ {
		es, err := s.Pending(ctx, acct, 2, 0)
		must(t, err, "pending")
		if len(es) == 0 {
			return all
		}
		all = append(all, es...)
	}
	t.Fatalf("pending never ran dry: %v", eventIDs(all))
	return nil
}

func assertIDs(t *testing.T, what string, got []store.Entry, want ...string) {
	t.Helper()
	ids := eventIDs(got)
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("%s: event ids = %v, want %v", what, ids, want)
	}
}

func assertLen(t *testing.T, ctx context.Context, s store.Store, acct string, want int64) {
	t.Helper()
	n, err := s.Len(ctx, acct)
	must(t, err, "len")
	if n != want {
		t.Fatalf("len = %d, want %d", n, want)
	}
}
