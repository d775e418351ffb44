// Package redisstore implements store.Store on Redis (go-redis v9): a
// single server, Sentinel or Cluster, chosen by URL. Every key of one bot
// account carries the account as a hash tag, so one account's keys share a
// cluster slot and every multi-key operation runs as one Lua script.
//
// See docs/store.md for the key layout, atomicity and running several
// instances on one Redis.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/ucwabot/ucwabot/store"
)

// Defaults applied by Open and New for zero Options fields.
const (
	DefaultPrefix   = "ucwabot"
	DefaultStateTTL = 24 * time.Hour
	DefaultDoneTTL  = 24 * time.Hour
	DefaultGroup    = "engine"
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// Prefix namespaces every key, e.g. "ucwabot:<deployment>". It must
	// not contain '{' or '}'. Default DefaultPrefix.
	Prefix string
	// StateTTL is how long a conversation's state lives without a write.
	// Zero means DefaultStateTTL; negative disables expiry.
	StateTTL time.Duration
	// DoneTTL is used when a Completion carries none. Zero means
	// DefaultDoneTTL.
	DoneTTL time.Duration
	// Group is the inbox streams' consumer group. Default DefaultGroup.
	Group string
	// Consumer names this instance inside the group. Default
	// hostname-pid-random.
	Consumer string
}

// Store is a store.Store on Redis. It is safe for concurrent use.
type Store struct {
	rdb      redis.UniversalClient
	ownsConn bool
	opts     Options

	mu      sync.Mutex
	groups  map[string]bool   // accounts whose consumer group exists
	replays map[string]string // account → XAUTOCLAIM cursor; "" once replayed
}

var _ store.Store = (*Store)(nil)

// Open connects to the Redis named by rawURL and checks it answers:
//
//	redis://[user:pass@]host:port[/db][?opts]            a single server
//	rediss://...                                          the same over TLS
//	redis://sentinel:26379/0?master_name=mymaster[&addr=host:port...]  Sentinel
//	redis+cluster://host:port[?addr=host:port...]         Cluster (also rediss+cluster)
//
// Query options are go-redis's (dial_timeout, read_timeout, pool_size, ...).
// Close closes the connection pool Open created.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	rdb, err := dial(rawURL)
	if err != nil {
		return nil, err
	}
	s, err := New(rdb, opts)
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	s.ownsConn = true
	if err := s.Ping(ctx); err != nil {
		_ = rdb.Close()
		return nil, err
	}
	return s, nil
}

// dial builds the universal client for rawURL; the URL's password never
// appears in the returned error.
func dial(rawURL string) (redis.UniversalClient, error) {
	if err := CheckURL(rawURL); err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redisstore: parse redis url: invalid url")
	}
	safe := redactURL(u)
	secrets := URLSecrets(rawURL)
	scrub := func(err error) error { return scrubError(err, secrets) }
	switch {
	case strings.HasSuffix(u.Scheme, "+cluster"):
		u.Scheme = strings.TrimSuffix(u.Scheme, "+cluster")
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redisstore: parse cluster url %s: %w", safe, scrub(err))
		}
		c := redis.NewClusterClient(o)
		watchCluster(c)
		return c, nil
	case u.Query().Has("master_name"):
		o, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redisstore: parse sentinel url %s: %w", safe, scrub(err))
		}
		return redis.NewFailoverClient(o), nil
	default:
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redisstore: parse redis url %s: %w", safe, scrub(err))
		}
		return redis.NewClient(o), nil
	}
}

// secretParams are the query parameters of a Redis URL that hold passwords.
var secretParams = []string{"password", "sentinel_password"}

// URLSecrets returns the passwords a Redis URL carries (user info,
// password= and sentinel_password=), for a log redactor.
func URLSecrets(rawURL string) []string {
	u, err := url.Parse(rawURL)
	if err != nil || rawURL == "" {
		return nil
	}
	var out []string
	if p, ok := u.User.Password(); ok && p != "" {
		out = append(out, p)
	}
	q := u.Query()
	for _, k := range secretParams {
		for _, v := range q[k] {
			if v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

// redactURL prints u without its user-info password and with the values of
// password= and sentinel_password= replaced.
func redactURL(u *url.URL) string {
	c := *u
	q := c.Query()
	changed := false
	for _, k := range secretParams {
		if q.Has(k) {
			q.Set(k, "xxxxx")
			changed = true
		}
	}
	if changed {
		c.RawQuery = q.Encode()
	}
	return c.Redacted()
}

// scrubError returns err with every secret blanked out of its text.
func scrubError(err error, secrets []string) error {
	msg := err.Error()
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// SetLogger sends go-redis's own log lines (pool and sentinel messages) to
// l, a logrus-style logger, at warning level, instead of go-redis's raw
// standard-error lines. It is process-wide, as go-redis's logger is.
func SetLogger(l interface {
	Warnf(format string, args ...any)
}) {
	redis.SetLogger(logAdapter{l})
}

type logAdapter struct {
	l interface {
		Warnf(format string, args ...any)
	}
}

func (a logAdapter) Printf(_ context.Context, format string, v ...any) {
	a.l.Warnf(strings.TrimSuffix(format, "\n"), v...)
}

// New returns a Store on an existing client. The caller keeps ownership of
// rdb: Close does not close it.
func New(rdb redis.UniversalClient, opts Options) (*Store, error) {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("redisstore: prefix %q: must not contain '{' or '}'", opts.Prefix)
	}
	if opts.StateTTL == 0 {
		opts.StateTTL = DefaultStateTTL
	}
	if opts.DoneTTL <= 0 {
		opts.DoneTTL = DefaultDoneTTL
	}
	if opts.Group == "" {
		opts.Group = DefaultGroup
	}
	if opts.Consumer == "" {
		host, _ := os.Hostname()
		opts.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	return &Store{
		rdb:     rdb,
		opts:    opts,
		groups:  make(map[string]bool),
		replays: make(map[string]string),
	}, nil
}

// Client returns the underlying client (for health checks and tests).
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstore: ping: %w", err)
	}
	return nil
}

// Close closes the connection pool when Open created it. Leases are kept:
// they expire by themselves or another instance takes them over.
func (s *Store) Close() error {
	if !s.ownsConn {
		return nil
	}
	if err := s.rdb.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("redisstore: close: %w", err)
	}
	return nil
}

// wrap names the operation and turns redis.Nil into store.ErrNotFound.
func wrap(op, account string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, redis.Nil) {
		err = store.ErrNotFound
	}
	return fmt.Errorf("redisstore: %s %s: %w", op, account, err)
}

// ms converts a duration to whole milliseconds, at least 1 when positive.
func ms(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	if m := d.Milliseconds(); m > 0 {
		return m
	}
	return 1
}
