// Package bot is the ucwabot engine: it drives bot accounts through the
// UCWA client (package ucwa), keeps them signed in and available, turns
// event-channel batches into domain events (package bot/event), writes
// them durably to each account's inbox in the store before acknowledging
// them, and runs the matching rules' handlers on a bounded worker pool, in
// order within each conversation.
//
// # One account
//
// Each account has a supervisor: lease → application (the stored session's
// one when the server still has it, else a new one) → makeMeAvailable →
// the event loop and the keep-alive. Every failure has its own recovery,
// logged with its cause and counted in ucwabot_recoveries_total:
//
//   - 401, or 403 InvalidToken: a new token, the request again, the same
//     application kept;
//   - 404 ApplicationNotFound or 410: a new application, makeMeAvailable,
//     subscriptions again; conversation links are read again on demand;
//   - 409 MakeMeAvailableRequired: makeMeAvailable, then the request again;
//   - 409 PGetReplaced while this instance holds a valid lease: once, the
//     channel is opened again at once (a late P-GET of a paused former
//     holder, or a spurious answer, must not stop the account); a second
//     one within ReplacedCooldown is a foreign client: the account stops,
//     raises an alarm (error log, ucwabot_alarms_total, not ready), keeps
//     the lease for ReplacedCooldown (default 5m) so no instance of the
//     deployment fights the client, then releases it and starts over;
//   - 400 invalid_grant (credentials refused), 410 TooManyApplications or
//     UserAgentNotAllowed, and other 4xx PROTOCOL.md says not to retry
//     (all but 401, 403, 404, 408, 409, 429; these get three tries at
//     backoff speed first, as a front may answer one in passing): an alarm labelled with the
//     cause (credentials, too_many_applications, user_agent_not_allowed,
//     refused), not ready, the status, code and subcode in the log, and
//     the next attempt only after SlowRetry (default 15m, ±10%) — never at
//     backoff speed, which would lock the account out of Active Directory;
//   - makeMeAvailable accepted but the read of the application after it
//     failed: the bot is available, the event channel is polled at once,
//     and the next reportMyActivity reads the missing links;
//   - resync: followed, and every cached conversation link forgotten;
//     resume: conversations and subscriptions treated as gone and rebuilt;
//   - 429 or 503 with Retry-After: the wait the server asks for; other 5xx,
//     timeouts and refused connections: exponential backoff with jitter,
//     capped at BackoffMax, reset after a success. Every request but the
//     P-GET is bounded by RequestTimeout (default 30s), so none keeps the
//     account offline longer than that plus the backoff.
//
// # Nothing lost, nothing twice
//
// The poller never waits on handlers: each answer of the event channel
// is translated and written to the account's inbox (store.Inbox) in one
// round trip with the cursor and the "sent" marks below, and only then is
// the next P-GET — the acknowledgement — sent. A feeder reads the inbox
// (at most QueueSize events in flight per account; when full it stops
// reading, the inbox grows, and the poller waits only past InboxMax) and
// hands events to the shared workers, which keep each conversation's
// events in order without a goroutine per conversation. A handled event
// leaves the inbox with its state changes and its done mark, all at once,
// in a group commit: one round trip writes every completion handled while
// the previous one was written, and the conversation's next event starts
// only after its predecessor's completion is stored. A conversation's state
// is read from the store once per lease tenure and then cached (the
// fenced lease holder is the only writer). conversation.ended removes the
// conversation's state unless KeepEndedState. The bot's own messages
// coming back (message.sent) reach the workers only when a rule listens
// to them. A replay (crash, restart, takeover) skips done events.
//
// A reply is sent with an operationId derived from (event id, step,
// ordinal). The server reports every message the bot sent as a message
// completed event carrying that operationId (and every conversation it
// started as a messaging invitation event); the poller stores a "sent"
// mark for it in the same write as the batch, before it acknowledges it.
// A first run of an event sends at once: nothing earlier can have sent its
// reply. A redelivered event (store.Entry.Redelivered: delivered before and
// not completed, so a dead run may have sent) cannot know whether the dead
// run's request reached the server, so it waits until this instance's
// poller has stored a batch polled since it took the account (the previous
// holder's unacknowledged events come first) or the event channel showed
// it had nothing pending, and sends only when the "sent" mark is missing.
// Replies are therefore sent exactly once across a kill and takeover when
// the server echoes the operationId in its completion event and the stored
// UCWA application is resumed; otherwise (a new application, an event
// channel that does not answer within min(2×PollTimeout, 30s)) a reply in
// the crash window is sent at least once and a warning says a duplicate is
// possible.
//
// When the answer to a POST is lost after the request went out (the
// connection broke, 500, 502 or 504), the server may have done it. Each
// non-idempotent call then does what fits it:
//
//   - sendMessage and startMessaging (a new IM) wait for the event channel
//     to report what the server received since; when it reports the
//     operationId the call succeeded, otherwise it is sent again (and when
//     the channel stays silent, sent again with a warning that a duplicate
//     is possible).
//   - accept and decline are sent again, in the same run or by a replay:
//     the server takes one answer per invitation, so a 409 (not pending)
//     after a lost answer, or on a replay, means the invitation was
//     answered. An accept refused with 404 or 410 means the invitation is
//     gone: its first message is answered in a new IM (see answerPreview).
//   - addParticipant, which the server does not report with an
//     operationId, takes a "sending" mark before it goes out and is done at
//     most once: a lost answer is not retried, the mark stays so that a
//     replay does not repeat it either, and the handler gets an error
//     saying so.
//
// Other steps (webhooks, plugins' own calls) run again when their event is
// replayed (at least once); each gets a stable idempotency key
// (handlers.Request.IdempotencyKey) to pass on. Marks and done marks live
// for DoneTTL, the replay window (1h).
//
// # Several instances
//
// Run N instances with the same Redis URL and prefix and the same
// accounts; give each a distinct InstanceID (default hostname-pid-random).
// Each account is driven by the instance holding its lease (renewed every
// LeaseTTL/3; every inbox, session and state write carries its fencing
// token, and a stale token is refused). The others stand by, trying the
// lease every LeaseTTL/3. When the holder dies its lease expires within
// LeaseTTL and a standby takes the account over: it resumes the stored
// UCWA application and event cursor when the server still has them, and
// replays what the inbox holds. An instance that loses its lease stops
// driving the account at once: the lease counts as lost when the store
// says so and at the moment it expires by the instance's own clock without
// a renewal (a paused process, a store that hangs); every UCWA request
// checks, just before it is sent, that the instance still holds an
// unexpired lease (ucwa.Config.BeforeSend), and the lease tenure's
// context, which handlers run under, is cancelled.
//
// A graceful stop of the holder hands the account over (Config.Handover):
// when a standby is there it leaves the UCWA application, its
// conversations and its event cursor in place and releases the lease, and
// the standby resumes them; people notice nothing. Standbys say that they
// are there with a mark each sets anew at every attempt on the lease.
//
// A standby instance is ready (the process can serve the account and
// takes it over when the holder dies); Status's Owner and the
// ucwabot_lease_holder gauge say which instance drives the account. Every
// instance is not ready within 2 s of its store ceasing to answer (a
// health probe every 250 ms with a 1 s timeout) and ready again at the
// first answer.
package bot
