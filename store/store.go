// Package store keeps what a bot must not forget: conversation state, the
// durable per-account inbox of UCWA events, dedupe and cooldown marks, the
// session record that lets a restarted bot resume its UCWA application, and
// the lease that gives each bot account exactly one owner.
//
// Two implementations pass one conformance suite (package storetest):
// Redis (production, several instances) and an embedded file store (the
// default, one instance).
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Errors callers branch on.
var (
	// ErrNotFound: the record does not exist. redis.Nil never leaves the
	// package; it becomes ErrNotFound.
	ErrNotFound = errors.New("store: not found")
	// ErrLeaseHeld: another owner holds the account's lease.
	ErrLeaseHeld = errors.New("store: lease held by another owner")
	// ErrFenced: a write carried a fencing token older than the account's
	// current one: this process lost its lease and must stop writing.
	ErrFenced = errors.New("store: lease lost (stale fencing token)")
)

// Fields are a conversation's state: named JSON values.
type Fields map[string]json.RawMessage

// Store is everything the engine keeps. Implementations are safe for
// concurrent use; Close releases connections and files (not leases).
type Store interface {
	States
	Inbox
	Marks
	Values
	Timers
	Sessions
	Leases
	// Ping reports whether the store is reachable (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// States holds per-conversation state with a TTL refreshed on every write.
type States interface {
	// LoadState returns the conversation's fields; an empty map (not an
	// error) when it has none.
	LoadState(ctx context.Context, account, conv string) (Fields, error)
	// UpdateState atomically reads the fields, calls fn to change them in
	// place, and writes the result; concurrent updates never lose a write.
	UpdateState(ctx context.Context, account, conv string, fn func(Fields) error) error
	// DeleteState removes the conversation's state.
	DeleteState(ctx context.Context, account, conv string) error
	// Conversations lists the conversations that have state.
	Conversations(ctx context.Context, account string) ([]string, error)
	// Expired removes and returns the conversations whose state TTL passed
	// (no write for the store's state TTL), so the engine can emit an event.
	Expired(ctx context.Context, account string, now time.Time) ([]string, error)
}

// Entry is one event in an account's inbox.
type Entry struct {
	// ID is assigned by Append; entries of one account are ordered by it.
	ID string
	// EventID is the event's stable id; Complete marks it done.
	EventID string
	// Conversation orders the entry; "" for account-wide events.
	Conversation string
	// Payload is the engine's encoding of the event.
	Payload []byte
	// Redelivered is set by Pending on an entry that was delivered before
	// and not completed: a crash or a previous owner may have begun it.
	Redelivered bool
}

// Batch is what one answer of the event channel writes to the inbox, all
// or nothing and in one round trip: its events, the operations the server
// reports it received from the bot, and the cursor that acknowledges it.
type Batch struct {
	// Entries are appended as Append does; their IDs are set.
	Entries []Entry
	// Sent are operation ids whose "sent" marks (Marks key "sent:<op>")
	// are set for MarkTTL.
	Sent    []string
	MarkTTL time.Duration
	// Session, when not nil, is saved with the entries: the cursor moves
	// exactly when the events it acknowledges are stored.
	Session *Session
}

// Completion is what Complete writes atomically for one handled entry.
type Completion struct {
	Entry Entry
	// Set and Delete change the entry's conversation state.
	Set    Fields
	Delete []string
	// Fence is the caller's lease token; a stale one fails with ErrFenced
	// and writes nothing.
	Fence int64
	// DoneTTL is how long the event's done mark is kept for dedupe.
	DoneTTL time.Duration
	// Forget removes the conversation's state and its entry in the
	// conversation index after the change (the conversation ended).
	Forget bool
}

// Inbox is the durable per-account queue that the poller fills before it
// acknowledges a batch and that workers drain.
type Inbox interface {
	// Append stores entries in order, in one round trip, and sets their
	// IDs. Entries whose EventID is already done or already queued are
	// skipped (a redelivered batch adds nothing).
	Append(ctx context.Context, account string, fence int64, entries []Entry) error
	// Pending returns up to n entries not yet completed, oldest first,
	// blocking up to wait for one when there is none. It returns entries
	// delivered before and not completed (replay after a crash) first.
	Pending(ctx context.Context, account string, n int, wait time.Duration) ([]Entry, error)
	// AppendBatch writes a poll batch under the fence, all or nothing, in
	// one round trip, and returns the inbox length after it.
	AppendBatch(ctx context.Context, account string, fence int64, b Batch) (int64, error)
	// Complete removes the entry, marks its EventID done and applies the
	// state change, all or nothing, in one round trip.
	Complete(ctx context.Context, account string, c Completion) error
	// CompleteBatch applies many completions in order, all or nothing, in
	// one round trip (group commit). Each is what Complete would do;
	// one already done writes nothing. Every completion carries the same
	// fence; a stale one fails the whole batch with ErrFenced.
	CompleteBatch(ctx context.Context, account string, cs []Completion) error
	// Done reports whether the event was completed (within its DoneTTL).
	Done(ctx context.Context, account, eventID string) (bool, error)
	// Len returns the number of entries not yet completed.
	Len(ctx context.Context, account string) (int64, error)
}

// Marks are keys with a TTL, for cooldowns and send-once marks.
type Marks interface {
	// Mark sets key for ttl when it is not set and reports whether this
	// call set it (true: first within the window).
	Mark(ctx context.Context, account, key string, ttl time.Duration) (bool, error)
	// Unmark removes key.
	Unmark(ctx context.Context, account, key string) error
}

// Values are small records beside the conversations, each with a TTL:
// what the notify API answers with, per-person state, the bot-wide
// key/value space. Keys are the caller's; the engine gives each use a
// prefix of its own ("notify:", "person:", "kv:").
type Values interface {
	// SetValue stores value under key for ttl (zero or less: no expiry)
	// after checking the fence; a stale fence writes nothing and fails
	// with ErrFenced.
	SetValue(ctx context.Context, account string, fence int64, key string, value []byte, ttl time.Duration) error
	// GetValue returns the value; ErrNotFound when it is missing or
	// expired.
	GetValue(ctx context.Context, account, key string) ([]byte, error)
	// DeleteValue removes key after checking the fence.
	DeleteValue(ctx context.Context, account string, fence int64, key string) error
}

// Timer is an event due later: once Due has passed, the lease holder
// appends Entry to the inbox (its EventID makes that happen once) and
// drops the timer.
type Timer struct {
	// ID names the timer in its account; setting a timer with the ID of
	// another replaces it.
	ID    string    `json:"id"`
	Due   time.Time `json:"due"`
	Entry Entry     `json:"entry"`
}

// Timers keeps an account's timers, written under the fence.
type Timers interface {
	// SetTimer stores t, replacing the timer with its ID.
	SetTimer(ctx context.Context, account string, fence int64, t Timer) error
	// CancelTimer removes the timer id; none is no error.
	CancelTimer(ctx context.Context, account string, fence int64, id string) error
	// CancelTimers removes every timer whose ID starts with prefix (the
	// timers of a conversation that ended).
	CancelTimers(ctx context.Context, account string, fence int64, prefix string) error
	// DueTimers returns up to n timers due at now, earliest first.
	DueTimers(ctx context.Context, account string, now time.Time, n int) ([]Timer, error)
	// DropTimer removes the timer id when it is still the one due at due
	// (one set again since stays).
	DropTimer(ctx context.Context, account string, fence int64, id string, due time.Time) error
}

// Session is what a restarted or taking-over instance needs to resume a
// bot account's UCWA application. It never holds a token or password.
type Session struct {
	ApplicationURL string    `json:"applicationUrl"`
	EventsURL      string    `json:"eventsUrl"` // the next P-GET (its ack)
	EndpointID     string    `json:"endpointId"`
	Updated        time.Time `json:"updated"`
}

// Sessions keeps one Session per account.
type Sessions interface {
	SaveSession(ctx context.Context, account string, fence int64, s Session) error
	// LoadSession returns ErrNotFound when none was saved.
	LoadSession(ctx context.Context, account string) (Session, error)
}

// Lease gives one owner the right to drive an account until Expires.
type Lease struct {
	Account string
	Owner   string
	// Token is the fencing token: it grows with every new acquisition.
	Token   int64
	Expires time.Time
}

// Leases hands out account leases.
type Leases interface {
	// AcquireLease takes the account when it is free or expired, or renews
	// it when owner already holds it; ErrLeaseHeld otherwise. Each success
	// starts a tenure: the next Pending on this store replays the entries
	// delivered before and not completed, owner's own included.
	AcquireLease(ctx context.Context, account, owner string, ttl time.Duration) (Lease, error)
	// RenewLease extends a held lease; ErrFenced when it was lost.
	RenewLease(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// ReleaseLease gives the account up when l still holds it.
	ReleaseLease(ctx context.Context, l Lease) error
	// LeaseHolder returns the current lease, ErrNotFound when none.
	LeaseHolder(ctx context.Context, account string) (Lease, error)
}
