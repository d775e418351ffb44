// Package ucwasim is an in-process UCWA 2.0 server for tests and demos.
//
// It follows docs/PROTOCOL.md: discovery (DiscoveryURL), the 401 MsRtcOAuth challenge and the
// password-grant token endpoint, applications, makeMeAvailable and reportMyActivity, the P-GET
// event channel, presence subscriptions and instant-messaging conversations, with the response
// shapes and event orders of the official samples (ReceiveAnIM and SendAnIM walkthroughs).
// Every URL it hands out is a link in a resource, in the server's own path scheme
// (/ucwa/oauth/v1/applications/<id>/...); hrefs below the application are relative.
//
// A control API scripts the people the bot talks to (Invite, Say, Join, Leave, HangUp), reads
// what the bot sent (Sent, SentFrom, Transcript, WaitTranscript, Conversation), and injects
// faults (Inject with path patterns, rates and actions, Faults, ClearFaults, RevokeTokens,
// KillApplication, ExpireApplication, ForceResync, ForceResume).
//
// # Time
//
// Time rules run on a simulated clock (Now) that runs Options.TimeScale times faster than real
// time, or, with Options.ManualClock, only when Advance moves it. Each rule is a deadline in a
// timer heap, armed where the time it counts from is set; the janitor sleeps until the earliest
// one, so its cost does not grow with the number of conversations. Durations on the wire are simulated too: the token's expires_in, and the P-GET timeout
// parameter (seconds, default 180; any positive value up to 1800 is accepted, fractions too,
// and remembered per application). The rules:
//
//   - tokens expire after Options.TokenLifetime; the next request gets 401 and the challenge;
//   - the bot's availability drops to Away (with a presence updated event) when its last
//     reportMyActivity or makeMeAvailable is more than 4 minutes old;
//   - an application with no P-GET parked for Options.AppIdleTimeout (3 minutes) expires:
//     410 InactiveApplicationExpired, its conversations and subscriptions gone;
//   - an incoming message no P-GET picked up within 30 seconds is dropped and marked
//     Message.Undelivered;
//   - an outgoing invitation a person does not answer (SetAutoAccept false) fails after 30 s;
//   - presence subscriptions last 10 to 30 minutes (durations are clamped), get a
//     presenceSubscription updated warning a minute before they expire, then are deleted.
//
// # Event channel
//
// A P-GET with ack=N acknowledges the batches before N and answers batch N: again if it was
// built already, at once when events are waiting, otherwise when events arrive or the timeout
// passes (an empty batch with a next link). An ack out of range answers only a resync link to
// the first unacknowledged batch. A new P-GET on an application releases the parked one with
// 409 PGetReplaced. Events are not held back for the medium/low aggregation windows.
//
// All methods of Server and Conversation are safe for concurrent use.
package ucwasim
