package redisstore

import (
	"fmt"
	"strings"
)

// keys are one account's Redis keys. The account is the hash tag, so all
// of them live in one cluster slot:
//
//	<prefix>:{<account>}:fence         fencing token counter (INCR)
//	<prefix>:{<account>}:lease         "<token>:<owner>", SET NX PX
//	<prefix>:{<account>}:state:<conv>  hash: field → JSON value, PEXPIRE StateTTL
//	<prefix>:{<account>}:convs         sorted set: conv → last write (unix ms)
//	<prefix>:{<account>}:inbox         stream with the consumer group
//	<prefix>:{<account>}:queued        hash: eventID → stream ID of queued entries
//	<prefix>:{<account>}:done:<event>  done mark, PX DoneTTL
//	<prefix>:{<account>}:mark:<key>    cooldown / send-once mark, PX ttl
//	<prefix>:{<account>}:session       JSON store.Session
//	<prefix>:{<account>}:value:<key>   string, PX ttl (Values)
//	<prefix>:{<account>}:timers        sorted set: timer id → due (unix ms)
//	<prefix>:{<account>}:timerdata     hash: timer id → JSON store.Timer
type keys struct {
	base string // "<prefix>:{<account>}:"
}

func (s *Store) keys(account string) (keys, error) {
	if account == "" || strings.ContainsAny(account, "{}") {
		return keys{}, fmt.Errorf("redisstore: account %q: must be non-empty without '{' or '}'", account)
	}
	return keys{base: s.opts.Prefix + ":{" + account + "}:"}, nil
}

func (k keys) fence() string            { return k.base + "fence" }
func (k keys) lease() string            { return k.base + "lease" }
func (k keys) statePrefix() string      { return k.base + "state:" }
func (k keys) state(conv string) string { return k.base + "state:" + conv }
func (k keys) convs() string            { return k.base + "convs" }
func (k keys) inbox() string            { return k.base + "inbox" }
func (k keys) queued() string           { return k.base + "queued" }
func (k keys) done(eventID string) string {
	return k.base + "done:" + eventID
}
func (k keys) mark(key string) string  { return k.base + "mark:" + key }
func (k keys) session() string         { return k.base + "session" }
func (k keys) value(key string) string { return k.base + "value:" + key }
func (k keys) timers() string          { return k.base + "timers" }
func (k keys) timerData() string       { return k.base + "timerdata" }
