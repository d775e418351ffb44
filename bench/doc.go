// Package bench runs workload W1 of issue 17 through the real engine in one
// process and measures it: the UCWA simulator (ucwa/ucwasim) over loopback
// HTTP, the engine (package bot) built as `bot run` builds it, and the store
// (Redis under a key prefix of its own, deleted afterwards, or the embedded
// bolt store in a temporary directory).
//
// W1: C conversations, M text messages round-robin over them from 50
// people, R rules each matching the case-insensitive regex ^cmd<k>\b (every
// message matches exactly one), a handler that increments a counter in the
// conversation's state and replies "[<id>] count=<n>", at most W messages in
// flight. A run is timed from the first injection to the last reply and then
// verified: every reply present and sent once, each conversation's counts
// exactly 1..N in the order its messages were said, and the stored counters
// equal to N. Beside it, the same run measures what Redis itself allows: one
// HINCRBY per message from 64 goroutines, and HINCRBY pipelined 256 at a
// time.
//
// `bot bench` is the command; Run is what it calls, so a Go benchmark or a
// test can run the same workload.
package bench
