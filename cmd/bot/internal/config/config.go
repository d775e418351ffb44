// Package config is the bot service's configuration file: a documented
// struct with defaults, loaded from YAML with the position of every key,
// overridden by UCWABOT_* environment variables, and checked by Validate.
//
// Credentials are never written in the file: accounts name an environment
// variable or a file that holds the password, and the admin token comes
// the same way.
package config

import (
	"time"
)

// Config is the whole of bot.yaml. Durations are written as Go durations
// ("10s", "3m"). The zero value is not useful; start from Default.
type Config struct {
	// Accounts are the bot accounts to sign in. At least one.
	Accounts []Account `yaml:"accounts"`
	// Rules are rule files or directories of rule files (*.yaml, *.yml).
	// Relative paths are relative to the config file's directory.
	Rules []string `yaml:"rules"`
	// Store says where conversation state, the event inbox and the leases
	// live.
	Store Store `yaml:"store"`
	// HTTP is the health, metrics and admin server.
	HTTP HTTP `yaml:"http"`
	// Admin secures the admin API.
	Admin Admin `yaml:"admin"`
	// Webhooks restricts where the webhook plugin may post.
	Webhooks Webhooks `yaml:"webhooks"`
	// Log configures the service's log lines.
	Log Log `yaml:"log"`
	// Engine holds the event loop's settings.
	Engine Engine `yaml:"engine"`
	// KeepAlive holds the timings that keep a UCWA session alive.
	KeepAlive KeepAlive `yaml:"keepalive"`
	// Transcripts says whether and how long conversations' transcripts
	// are kept.
	Transcripts Transcripts `yaml:"transcripts"`

	// file is the path the config was read from ("" when built in code).
	file string
	// pos maps a key path ("accounts[0].address") to where it was set.
	pos map[string]Position
}

// Account is one bot account.
type Account struct {
	// Address is the sign-in address: bot@example.com or sip:bot@example.com.
	Address string `yaml:"address"`
	// DiscoveryURL is an explicit lyncdiscover root URL. Empty: the engine
	// tries lyncdiscoverinternal.<domain>, then lyncdiscover.<domain>
	// (PROTOCOL.md 2.1).
	DiscoveryURL string `yaml:"discovery_url"`
	// TrustedHosts are host names outside the address's domain and the
	// discovery URL's host that may receive the password, tokens and UCWA
	// requests (a pool FQDN in another domain). Anything else is refused.
	TrustedHosts []string `yaml:"trusted_hosts"`
	// InsecureHTTP allows plain http URLs for this account: a simulator or
	// a test bed, never a real server (docs/security.md). Without it every
	// request goes over https and a plain http link is refused. The service
	// logs a warning at start when it is set.
	InsecureHTTP bool `yaml:"insecure_http"`
	// CAFile is a PEM bundle of CA certificates added to the system roots
	// for this account's TLS connections (a private PKI). Verification
	// stays on. Relative paths are relative to the config file's directory.
	CAFile string `yaml:"ca_file"`
	// Username is the name for the password grant; empty means Address
	// without "sip:".
	Username string `yaml:"username"`
	// PasswordEnv names the environment variable holding the password.
	PasswordEnv string `yaml:"password_env"`
	// PasswordFile is a file holding the password (one trailing line end is
	// trimmed). Relative paths are relative to the config file's directory.
	PasswordFile string `yaml:"password_file"`
	// UserAgent is sent with every UCWA request; empty means the engine's.
	UserAgent string `yaml:"user_agent"`
	// EndpointID is the UCWA endpoint id; empty means one derived from
	// Address, stable across restarts.
	EndpointID string `yaml:"endpoint_id"`
	// Subscribe are SIP URIs whose presence the bot watches.
	Subscribe []string `yaml:"subscribe"`

	// Password is refused: a password is never written in the file.
	Password refused `yaml:"password" refuse:"inline passwords are not accepted; use password_env or password_file"`
}

// refused marks a key that the file must not set; the decoder reports the
// field's refuse tag when it appears.
type refused struct{}

// Store selects the state store.
type Store struct {
	// URL is a Redis URL (redis://[:password@]host:port/db or rediss://...).
	// Empty selects the embedded store at Path.
	URL string `yaml:"url"`
	// Path is the embedded store's file, used when URL is empty. Relative
	// paths are relative to the working directory.
	Path string `yaml:"path"`
	// Prefix is the key prefix in Redis, so several bots can share one
	// server.
	Prefix string `yaml:"prefix"`
}

// HTTP is the health, metrics and admin server.
type HTTP struct {
	// Listen is host:port. A non-loopback address requires an admin token.
	Listen string `yaml:"listen"`
}

// Admin secures the admin API.
type Admin struct {
	// TokenEnv names the environment variable holding the bearer token that
	// admin calls must present.
	TokenEnv string `yaml:"token_env"`
	// TokenFile is a file holding the token. Relative paths are relative to
	// the config file's directory.
	TokenFile string `yaml:"token_file"`
	// AllowedHosts are the host names (without port) by which clients may
	// reach the admin API besides the listen address itself; a request
	// whose Host header names anything else is refused (DNS rebinding).
	// With a loopback listen address, localhost, 127.0.0.1 and [::1] on the
	// listen port are always allowed.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// AllowLoopbackWithoutToken lets state-changing admin calls (rules
	// reload, dropping a conversation) through without a token when no
	// token is configured and the listen address is loopback. Off by
	// default: then they need a token on every address.
	AllowLoopbackWithoutToken bool `yaml:"allow_loopback_without_token"`
}

// Webhooks restricts the webhook plugin's targets, which come only from
// the rule files.
type Webhooks struct {
	// AllowedHosts, when not empty, are the only host names (a leading
	// "*." matches any subdomain) a webhook URL may name; a rule naming
	// another host fails to load. Empty allows any host.
	AllowedHosts []string `yaml:"allowed_hosts"`
}

// Log configures log lines.
type Log struct {
	// Format is json or text.
	Format string `yaml:"format"`
	// Level is trace, debug, info, warn or error.
	Level string `yaml:"level"`
}

// Engine holds the event loop's settings.
type Engine struct {
	// Workers is the number of worker goroutines; conversations are hashed
	// onto them, so one conversation's events stay in order.
	Workers int `yaml:"workers"`
	// QueueSize bounds each worker's queue; a full queue slows intake, it
	// never drops an event.
	QueueSize int `yaml:"queue_size"`
	// HandlerTimeout bounds one handler call.
	HandlerTimeout time.Duration `yaml:"handler_timeout"`
	// DrainTimeout bounds the graceful shutdown.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// LeaseTTL is the account lease's life; another instance takes an
	// account over within this time after its owner dies.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// InstanceID names this instance as a lease owner; empty means
	// hostname-pid-random.
	InstanceID string `yaml:"instance_id"`
	// Shadow evaluates rules and logs what would run, and runs nothing.
	Shadow bool `yaml:"shadow"`
	// Handover is what a graceful stop does with the UCWA application:
	// auto (leave it to a standby when one is there), always, or never
	// (delete it, ending the open conversations).
	Handover string `yaml:"handover"`
	// IdleAfter, when set, fires conversation.idle in a conversation in
	// which nobody wrote for this long.
	IdleAfter time.Duration `yaml:"idle_after"`
	// NotifyRate and NotifyBurst pace the notify API (POST
	// /api/v1/messages) per account and instance: messages a second, and
	// the burst allowed above it.
	NotifyRate float64 `yaml:"notify_rate"`
	// PersonTTL is how long a person's state (person.state) is kept after
	// its last change.
	PersonTTL   time.Duration `yaml:"person_ttl"`
	NotifyBurst int           `yaml:"notify_burst"`
	// Backoff paces reconnection after errors.
	Backoff Backoff `yaml:"backoff"`
}

// Transcripts keeps each conversation's messages, joins and leaves, the
// bot's replies and the rules that fired.
type Transcripts struct {
	// Retention is how long a transcript is kept after its last entry; 0
	// keeps none (the default: no chat content is stored).
	Retention time.Duration `yaml:"retention"`
	// MaxEntries bounds one transcript; the oldest entries go first.
	MaxEntries int `yaml:"max_entries"`
}

// Backoff paces retries: Initial, times Multiplier per attempt, at most
// Max, each wait randomised by up to ± Jitter (a fraction).
type Backoff struct {
	Initial    time.Duration `yaml:"initial"`
	Max        time.Duration `yaml:"max"`
	Multiplier float64       `yaml:"multiplier"`
	Jitter     float64       `yaml:"jitter"`
}

// KeepAlive holds the timings that keep a UCWA session alive.
type KeepAlive struct {
	// ActivityInterval is the reportMyActivity period; under 4m, or the
	// server marks the bot Away (PROTOCOL.md 5.2).
	ActivityInterval time.Duration `yaml:"activity_interval"`
	// SubscriptionDuration is the presence subscription's life, 10m to 30m
	// (PROTOCOL.md 7.1).
	SubscriptionDuration time.Duration `yaml:"subscription_duration"`
	// PollTimeout is the event channel's long-poll timeout, 180s to 1800s
	// (PROTOCOL.md 6.1).
	PollTimeout time.Duration `yaml:"poll_timeout"`
}

// Defaults of the settings that have one.
const (
	DefaultStorePath = "./bot-data/ucwabot.db"
	DefaultListen    = "127.0.0.1:8080"
)

// Default returns a Config holding every default; Load decodes the file
// over it.
func Default() *Config {
	return &Config{
		Store:       Store{Path: DefaultStorePath, Prefix: "ucwabot"},
		HTTP:        HTTP{Listen: DefaultListen},
		Log:         Log{Format: "json", Level: "info"},
		Transcripts: Transcripts{MaxEntries: 1000},
		Engine: Engine{
			Workers:        8,
			QueueSize:      256,
			HandlerTimeout: 10 * time.Second,
			DrainTimeout:   10 * time.Second,
			Handover:       "auto",
			NotifyRate:     1,
			PersonTTL:      90 * 24 * time.Hour,
			NotifyBurst:    20,
			LeaseTTL:       15 * time.Second,
			Backoff: Backoff{
				Initial:    time.Second,
				Max:        60 * time.Second,
				Multiplier: 1.75,
				Jitter:     0.2,
			},
		},
		KeepAlive: KeepAlive{
			ActivityInterval:     3 * time.Minute,
			SubscriptionDuration: 30 * time.Minute,
			PollTimeout:          180 * time.Second,
		},
	}
}

// File returns the path the config was loaded from, "" when it was built
// in code.
func (c *Config) File() string { return c.file }
