package bot

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Config is the engine's configuration. The zero value of every field
// means its default; Validate fills nothing in, New applies the defaults
// before validating.
type Config struct {
	// Accounts are the bot accounts the engine drives.
	Accounts []Account
	// Workers is the size of the worker pool shared by all conversations
	// of this instance (default 8).
	Workers int
	// QueueSize bounds, per account, the events read from the inbox but
	// not yet handled (default 256). When it is full the inbox reader
	// waits (backpressure); nothing is dropped.
	QueueSize int
	// HandlerTimeout bounds each handler call (default 30s).
	HandlerTimeout time.Duration
	// ActivityInterval is the reportMyActivity period, jittered by ±10%
	// (default 3m). It must stay below 4m with its jitter.
	ActivityInterval time.Duration
	// SubscriptionDuration is the life of presence subscriptions
	// (default 20m, 10–30m).
	SubscriptionDuration time.Duration
	// PollTimeout is the event channel's timeout parameter (default 180s).
	PollTimeout time.Duration
	// LeaseTTL is the account lease's life; it is renewed every third of
	// it (default 15s).
	LeaseTTL time.Duration
	// DrainTimeout bounds the wait for in-flight work at shutdown
	// (default 10s).
	DrainTimeout time.Duration
	// DoneTTL is the replay window: how long the done marks of handled
	// events and the "sent" marks of the bot's operations are kept
	// (default 1h). An event can come back only while its application
	// lives, and the server expires an application that was not polled
	// for 15 minutes; a longer window only costs store memory.
	DoneTTL time.Duration
	// KeepEndedState keeps a conversation's state after conversation.ended
	// (until the store's state TTL). By default the end removes it, with
	// its entry in the conversation index, so that the store holds only
	// open conversations.
	KeepEndedState bool
	// Shadow evaluates rules and logs what would run, running nothing.
	Shadow bool
	// InstanceID names this instance as a lease owner (default
	// hostname-pid-random).
	InstanceID string
	// BackoffMax caps the exponential step between retries (default 1m);
	// the jitter applies after the cap.
	BackoffMax time.Duration
	// BackoffInitial is the first wait after an error (default 100ms).
	BackoffInitial time.Duration
	// BackoffMultiplier grows the wait per attempt (default 2, at least 1).
	BackoffMultiplier float64
	// BackoffJitter randomises each wait by up to ± this fraction
	// (default 0.5, 0 to below 1).
	BackoffJitter float64
	// InboxMax is the inbox length above which the poller waits before the
	// next P-GET (default 64×QueueSize). It only guards against a store
	// that grows without bound while workers are stalled.
	InboxMax int64
	// ServerTimeScale is how many server seconds pass per real second: 1
	// against a real server, more against a simulator with a compressed
	// clock. It scales the timers that count in server time (presence
	// subscription renewal).
	ServerTimeScale float64
	// RequestTimeout bounds every UCWA request but the event channel's
	// P-GET: sign-in and token, POST applications, makeMeAvailable,
	// presence, reportMyActivity, sends (default 30s). A stalled request
	// keeps the account offline at most this plus the backoff.
	RequestTimeout time.Duration
	// SlowRetry is the wait between attempts after an answer that must not
	// be retried at backoff speed: credentials refused (400 invalid_grant,
	// which would lock the account out of Active Directory), 410
	// TooManyApplications or UserAgentNotAllowed, other 4xx (default 15m).
	SlowRetry time.Duration
	// ReplacedCooldown is how long an account whose event channel a
	// foreign client took (409 PGetReplaced twice within it) stays stopped
	// before it tries again (default 5m).
	ReplacedCooldown time.Duration
	// Handover is what a graceful stop of the lease holder does with the
	// account's UCWA application: HandoverAuto (the default) leaves it to
	// a standby instance when one is there, HandoverAlways leaves it in
	// any case (for a restart of a single instance), HandoverNever
	// deletes it, which ends the open conversations. A handed-over
	// application keeps its conversations, and the instance that takes
	// the lease resumes it at the stored event cursor.
	Handover string
	// NotifyRate and NotifyBurst pace the notify API per account and per
	// instance that takes the requests: NotifyRate messages a second on
	// average (default 1), bursts of NotifyBurst (default 20). A request
	// over the limit is refused (HTTP 429) before it is queued.
	NotifyRate  float64
	NotifyBurst int
	// PersonTTL is how long a person's state (person.state) is kept after
	// its last change (default 90 days); KVTTL the default life of a kv
	// value (default 30 days).
	PersonTTL time.Duration
	KVTTL     time.Duration
	// TranscriptRetention keeps each conversation's transcript (its
	// messages, joins and leaves, the bot's replies and the rules that
	// fired) for this long after its last entry; 0 (the default) keeps
	// none, for deployments that must not store chat content.
	// TranscriptMax bounds a transcript's entries (default 1000); the
	// oldest go first.
	TranscriptRetention time.Duration
	TranscriptMax       int
	// IdleAfter, when set, fires conversation.idle in a conversation in
	// which nobody wrote for this long since the last message (a timer
	// restarted by every message, stopped when the conversation ends).
	IdleAfter time.Duration
}

// Values of Config.Handover.
const (
	HandoverAuto   = "auto"
	HandoverAlways = "always"
	HandoverNever  = "never"
)

// Defaults of Config.
const (
	DefaultTranscriptMax        = 1000
	DefaultPersonTTL            = 90 * 24 * time.Hour
	DefaultKVTTL                = 30 * 24 * time.Hour
	DefaultNotifyRate           = 1.0
	DefaultNotifyBurst          = 20
	DefaultWorkers              = 8
	DefaultQueueSize            = 256
	DefaultHandlerTimeout       = 30 * time.Second
	DefaultActivityInterval     = 3 * time.Minute
	DefaultSubscriptionDuration = 20 * time.Minute
	DefaultPollTimeout          = 180 * time.Second
	DefaultLeaseTTL             = 15 * time.Second
	DefaultDrainTimeout         = 10 * time.Second
	DefaultDoneTTL              = time.Hour
	DefaultBackoffMax           = time.Minute
	DefaultBackoffInitial       = 100 * time.Millisecond
	DefaultBackoffMultiplier    = 2.0
	DefaultBackoffJitter        = 0.5
	DefaultRequestTimeout       = 30 * time.Second
	DefaultSlowRetry            = 15 * time.Minute
	DefaultReplacedCooldown     = 5 * time.Minute
	// MaxActivityInterval is the server's limit: availability drops to
	// Away when reportMyActivity is 4 minutes late.
	MaxActivityInterval = 4 * time.Minute
)

// activityJitter is the ± fraction applied to ActivityInterval.
const activityJitter = 0.1

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.HandlerTimeout == 0 {
		c.HandlerTimeout = DefaultHandlerTimeout
	}
	if c.ActivityInterval == 0 {
		c.ActivityInterval = DefaultActivityInterval
	}
	if c.SubscriptionDuration == 0 {
		c.SubscriptionDuration = DefaultSubscriptionDuration
	}
	if c.PollTimeout == 0 {
		c.PollTimeout = DefaultPollTimeout
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.DoneTTL == 0 {
		c.DoneTTL = DefaultDoneTTL
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	if c.BackoffInitial == 0 {
		c.BackoffInitial = DefaultBackoffInitial
	}
	if c.BackoffMultiplier == 0 {
		c.BackoffMultiplier = DefaultBackoffMultiplier
	}
	if c.BackoffJitter == 0 {
		c.BackoffJitter = DefaultBackoffJitter
	}
	if c.InboxMax == 0 {
		c.InboxMax = int64(c.QueueSize) * 64
	}
	if c.ServerTimeScale == 0 {
		c.ServerTimeScale = 1
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.SlowRetry == 0 {
		c.SlowRetry = DefaultSlowRetry
	}
	if c.Handover == "" {
		c.Handover = HandoverAuto
	}
	if c.TranscriptMax == 0 {
		c.TranscriptMax = DefaultTranscriptMax
	}
	if c.PersonTTL == 0 {
		c.PersonTTL = DefaultPersonTTL
	}
	if c.KVTTL == 0 {
		c.KVTTL = DefaultKVTTL
	}
	if c.NotifyRate == 0 {
		c.NotifyRate = DefaultNotifyRate
	}
	if c.NotifyBurst == 0 {
		c.NotifyBurst = DefaultNotifyBurst
	}
	if c.ReplacedCooldown == 0 {
		c.ReplacedCooldown = DefaultReplacedCooldown
	}
	if c.InstanceID == "" {
		c.InstanceID = defaultInstanceID()
	}
	for i := range c.Accounts {
		if c.Accounts[i].EndpointID == "" {
			c.Accounts[i].EndpointID = endpointID(c.Accounts[i].Address)
		}
	}
	return c
}

// Validate reports every configuration error at once, naming the key.
// Zero values are accepted where a default applies.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("bot config: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	if len(c.Accounts) == 0 {
		bad("accounts", "at least one bot account is needed")
	}
	seen := map[string]bool{}
	for i, a := range c.Accounts {
		key := fmt.Sprintf("accounts[%d]", i)
		if err := a.validate(); err != nil {
			bad(key, "%v", err)
		}
		addr := strings.ToLower(normalizeAddress(a.Address))
		if seen[addr] && addr != "" {
			bad(key+".address", "%q appears twice", a.Address)
		}
		seen[addr] = true
	}
	if c.Workers < 0 {
		bad("workers", "%d is negative", c.Workers)
	}
	if c.QueueSize < 0 {
		bad("queueSize", "%d is negative", c.QueueSize)
	}
	if c.HandlerTimeout < 0 {
		bad("handlerTimeout", "%v is negative", c.HandlerTimeout)
	}
	if c.ActivityInterval < 0 {
		bad("activityInterval", "%v is negative", c.ActivityInterval)
	}
	if c.ActivityInterval > 0 && time.Duration(float64(c.ActivityInterval)*(1+activityJitter)) >= MaxActivityInterval {
		bad("activityInterval", "%v with its ±10%% jitter reaches the server's 4m limit (keep it at or under 3m30s)", c.ActivityInterval)
	}
	if d := c.SubscriptionDuration; d != 0 && (d < 10*time.Minute || d > 30*time.Minute) {
		bad("subscriptionDuration", "%v is outside 10m–30m", d)
	}
	if c.PollTimeout < 0 {
		bad("pollTimeout", "%v is negative", c.PollTimeout)
	}
	if c.LeaseTTL < 0 || (c.LeaseTTL > 0 && c.LeaseTTL < 300*time.Millisecond) {
		bad("leaseTTL", "%v is too short (at least 300ms)", c.LeaseTTL)
	}
	if c.DrainTimeout < 0 {
		bad("drainTimeout", "%v is negative", c.DrainTimeout)
	}
	if c.IdleAfter < 0 {
		bad("idleAfter", "%v is negative", c.IdleAfter)
	}
	if c.TranscriptRetention < 0 {
		bad("transcriptRetention", "%v is negative", c.TranscriptRetention)
	}
	if c.TranscriptMax < 0 {
		bad("transcriptMax", "%d is negative", c.TranscriptMax)
	}
	if c.PersonTTL < 0 {
		bad("personTTL", "%v is negative", c.PersonTTL)
	}
	if c.KVTTL < 0 {
		bad("kvTTL", "%v is negative", c.KVTTL)
	}
	if c.NotifyRate < 0 {
		bad("notifyRate", "%v is negative", c.NotifyRate)
	}
	if c.NotifyBurst < 0 {
		bad("notifyBurst", "%d is negative", c.NotifyBurst)
	}
	switch c.Handover {
	case "", HandoverAuto, HandoverAlways, HandoverNever:
	default:
		bad("handover", "%q is not auto, always or never", c.Handover)
	}
	if c.DoneTTL < 0 {
		bad("doneTTL", "%v is negative", c.DoneTTL)
	}
	if c.ServerTimeScale < 0 {
		bad("serverTimeScale", "%v is negative", c.ServerTimeScale)
	}
	if c.BackoffMax < 0 {
		bad("backoffMax", "%v is negative", c.BackoffMax)
	}
	if c.BackoffInitial < 0 {
		bad("backoffInitial", "%v is negative", c.BackoffInitial)
	}
	if m := c.BackoffMultiplier; math.IsNaN(m) || math.IsInf(m, 0) {
		bad("backoffMultiplier", "%v is not a finite number", m)
	} else if m != 0 && m < 1 {
		bad("backoffMultiplier", "%v is below 1", m)
	}
	if c.RequestTimeout < 0 {
		bad("requestTimeout", "%v is negative", c.RequestTimeout)
	}
	if c.SlowRetry < 0 {
		bad("slowRetry", "%v is negative", c.SlowRetry)
	}
	if c.ReplacedCooldown < 0 {
		bad("replacedCooldown", "%v is negative", c.ReplacedCooldown)
	}
	if c.BackoffJitter < 0 || c.BackoffJitter >= 1 || math.IsNaN(c.BackoffJitter) {
		bad("backoffJitter", "%v is not in [0, 1)", c.BackoffJitter)
	}
	return errors.Join(errs...)
}

// Account is one bot account the engine signs in and keeps available.
type Account struct {
	// Address is the sign-in SIP address, sip:bot@contoso.com.
	Address string
	// DiscoveryURL is the lyncdiscover root (optional; derived from the
	// address's domain when empty).
	DiscoveryURL string
	// TrustedHosts are hosts outside the address's domain (and the
	// discovery URL's host) that may receive the password, tokens and UCWA
	// requests, e.g. a pool FQDN in a split-domain deployment.
	TrustedHosts []string
	// InsecureHTTP allows plain http URLs (a simulator); see ucwa.Config.
	InsecureHTTP bool
	// CAFile is a PEM bundle added to the TLS roots; see ucwa.Config.
	CAFile string
	// OnSecret is told every secret the account's client comes to know
	// (password, tokens); see ucwa.Config.
	OnSecret func(string)
	// Username defaults to Address without "sip:".
	Username string
	// Password is never printed: Account implements String and GoString.
	Password string
	// TokenSource replaces the password grant when set.
	TokenSource oauth2.TokenSource
	// UserAgent is sent when the application is created.
	UserAgent string
	// EndpointID identifies the bot's endpoint; default derived stably
	// from Address.
	EndpointID string
	// Subscribe lists the contacts whose presence is watched, in addition
	// to the rules' subscribe list.
	Subscribe []string
}

func (a Account) validate() error {
	var errs []error
	if a.Address == "" {
		errs = append(errs, errors.New("address is empty"))
	} else if !strings.Contains(a.Address, "@") {
		errs = append(errs, fmt.Errorf("address %q is not a SIP address (sip:user@domain)", a.Address))
	}
	if a.Password == "" && a.TokenSource == nil {
		errs = append(errs, errors.New("neither password nor token source is set"))
	}
	for i, s := range a.Subscribe {
		if !strings.Contains(s, "@") {
			errs = append(errs, fmt.Errorf("subscribe[%d]: %q is not a SIP address", i, s))
		}
	}
	return errors.Join(errs...)
}

// String describes the account without its password.
func (a Account) String() string {
	pw := ""
	if a.Password != "" {
		pw = " password=REDACTED"
	}
	return fmt.Sprintf("account %s%s", a.Address, pw)
}

// GoString is String, so %#v does not print the password either.
func (a Account) GoString() string { return a.String() }

// normalizeAddress returns the SIP URI form of an address.
func normalizeAddress(a string) string {
	a = strings.TrimSpace(a)
	if a == "" || strings.HasPrefix(strings.ToLower(a), "sip:") {
		return a
	}
	return "sip:" + a
}

// endpointID derives a stable endpoint id from the account address.
func endpointID(address string) string {
	sum := sha256.Sum256([]byte("ucwabot endpoint " + strings.ToLower(normalizeAddress(address))))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func defaultInstanceID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
