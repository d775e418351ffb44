package redisstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/store/redisstore"
)

func TestOpen_parse_errors_never_show_query_passwords(t *testing.T) {
	const pw, spw = "q-pass-7f3a91", "s-pass-c2e844"
	for _, raw := range []string{
		"redis://127.0.0.1:6379/0?password=" + pw + "&pool_size=many",
		"redis://127.0.0.1:6379/0?master_name=m&sentinel_password=" + spw + "&password=" + pw + "&dial_timeout=soon",
		"redis+cluster://127.0.0.1:6379?password=" + pw + "&read_timeout=never",
	} {
		_, err := redisstore.Open(context.Background(), raw, redisstore.Options{})
		if err == nil {
			t.Fatalf("%s: no error", raw[:20])
		}
		if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), spw) {
			t.Errorf("the parse error shows a password: %v", err)
		}
	}
	got := redisstore.URLSecrets("redis://u:info-pw@h:1/0?password=" + pw + "&sentinel_password=" + spw)
	if strings.Join(got, ",") != "info-pw,"+pw+","+spw {
		t.Errorf("URLSecrets = %q", got)
	}
}

// syncBuffer is a log sink safe for go-redis's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSetLogger_go_redis_lines_come_out_in_the_configured_format(t *testing.T) {
	var out syncBuffer
	l := logrus.New()
	l.SetOutput(&out)
	l.SetFormatter(&logrus.JSONFormatter{})
	redisstore.SetLogger(l.WithField("component", "go-redis"))
	t.Cleanup(func() { redisstore.SetLogger(logrus.New()) })

	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	ctx := context.Background()
	key := "sectest:" + t.Name()
	defer rdb.Del(ctx, key)
	// go-redis logs a warning of its own when a TTL is below one millisecond.
	if err := rdb.Set(ctx, key, "v", 500*time.Microsecond).Err(); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("a line not in the configured JSON format: %q", line)
		}
		if msg, _ := e["msg"].(string); strings.Contains(msg, "minimal supported value") && e["component"] == "go-redis" && e["level"] == "warning" {
			found = true
		}
	}
	if !found {
		t.Fatalf("go-redis's own line did not come out through the logger: %q", out.String())
	}
}
