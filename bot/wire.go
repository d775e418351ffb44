package bot

import (
	"context"
	"time"

	"github.com/ucwabot/ucwabot/ucwa"
)

// EventWire is the two UCWA calls the event path makes all the time: the
// event channel's long poll, and sendMessage for every reply. An account
// makes them with its ucwa.Client; everything else (sign-in, keep-alive,
// conversations, invitations) always goes through the client.
type EventWire interface {
	Poll(ctx context.Context, href string, timeout time.Duration) (*ucwa.Batch, error)
	SendMessage(ctx context.Context, sendMessageHref, contentType, text, operationID string) (string, error)
}

// WithEventWire puts wrap between each account and its event wire: wrap
// gets the account's address and the client's wire and returns the wire
// the account uses. `bot bench --transport direct` serves the event path
// from memory this way, to measure the engine without the HTTP layers;
// a wire that records or replays traffic would do the same.
func WithEventWire(wrap func(account string, next EventWire) EventWire) Option {
	return func(e *Engine) { e.wire = wrap }
}
