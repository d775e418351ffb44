package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/config"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/simctl"
)

// testRedisURL is the Redis the tests use: $REDIS_URL or the local server.
func testRedisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// TestExampleConfigs_run_against_the_simulator runs bot run with every
// file of examples/config against bot sim (two processes), and has a
// person of the account's domain invite the bot and get its greeting.
// Only what names the machine is replaced: the discovery URL (the
// simulator's), an Active Directory user name (the simulator signs in by
// SIP URI), rule paths under /etc (the repository's examples/rules), the
// HTTP port and, for a Redis store, the test's Redis under a prefix of its
// own — the last two by UCWABOT_* variables as an operator would.
// Before any conversation, /metrics already has the alert series at 0
// and ucwabot_build_info.
func TestExampleConfigs_run_against_the_simulator(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "examples", "config", "*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("examples/config: %v %v", files, err)
	}
	rulesDir, err := filepath.Abs(filepath.Join(repoRoot, "examples", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			text := readFile(t, file)
			cfg, err := config.Parse([]byte(text), file, nil)
			if err != nil {
				t.Fatal(err)
			}
			acct := cfg.Accounts[0]
			botURI := "sip:" + strings.TrimPrefix(acct.Address, "sip:")
			domain := botURI[strings.Index(botURI, "@")+1:]
			alice := "sip:alice@" + domain
			users := []string{botURI + "=Example-Secret-1", alice}
			users = append(users, acct.Subscribe...)

			simAddr, httpAddr := freeAddr(t), freeAddr(t)
			sim := startBot(t, nil, "sim", "--listen", simAddr, "--domain", domain, "--users", strings.Join(users, ","))
			discovery := sim.waitFor(t, regexp.MustCompile(`discovery URL: (\S+)`), 30*time.Second)

			text = regexp.MustCompile(`(?m)^(\s*discovery_url:).*$`).ReplaceAllString(text, "${1} "+discovery)
			if !strings.Contains(text, discovery) {
				text = strings.Replace(text, "address: "+acct.Address, "address: "+acct.Address+"\n    discovery_url: "+discovery, 1)
			}
			if !strings.Contains(text, "insecure_http:") {
				// The simulator speaks plain http; a real deployment does not.
				text = regexp.MustCompile(`(?m)^(\s*)(discovery_url:.*)$`).ReplaceAllString(text, "${1}${2}\n${1}insecure_http: true")
			}
			text = regexp.MustCompile(`(?m)^\s*username:.*\n`).ReplaceAllString(text, "")
			text = strings.ReplaceAll(text, "/etc/ucwabot/rules/", rulesDir)
			dir := t.TempDir()
			path := filepath.Join(dir, "config", filepath.Base(file))
			writeFile(t, path, text)
			if err := os.Symlink(rulesDir, filepath.Join(dir, "rules")); err != nil {
				t.Fatal(err)
			}

			const token = "Example-Admin-Token"
			env := []string{acct.PasswordEnv + "=Example-Secret-1", "UCWABOT_HTTP_LISTEN=" + httpAddr}
			if cfg.Admin.TokenEnv != "" {
				env = append(env, cfg.Admin.TokenEnv+"="+token)
			}
			if cfg.Store.URL != "" {
				prefix := "ucwabot-test-examples-" + uuid.NewString()[:8]
				env = append(env, "UCWABOT_STORE_URL="+testRedisURL(), "UCWABOT_STORE_PREFIX="+prefix)
				t.Cleanup(func() { deleteKeys(t, prefix) })
			}
			bot := startBotIn(t, dir, env, "run", "--config", path)
			base := "http://" + httpAddr
			eventually(t, 30*time.Second, "/readyz answers 200", func() error {
				code, body, err := httpDo(http.MethodGet, base+"/readyz", "", nil)
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("%d %s", code, body)
				}
				if err != nil {
					return fmt.Errorf("%v; output:\n%s", err, bot.output())
				}
				return nil
			})

			_, metrics := httpGet(t, base+"/metrics", "")
			for _, want := range []string{
				fmt.Sprintf(`ucwabot_alarms_total{account=%q,alarm="pget_replaced"} 0`, botURI),
				fmt.Sprintf(`ucwabot_rule_errors_total{account=%q,rule=""} 0`, botURI),
				`ucwabot_store_errors_total{op="complete"} 0`,
				`ucwabot_build_info{commit="`,
				`go_version="go`,
				`version="` + testVersion + `"} 1`,
			} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics before any conversation lacks %s", want)
				}
			}

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ctl := &simctl.Client{Base: "http://" + simAddr}
			conv, err := ctl.Invite(ctx, alice, botURI, "hello")
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, 30*time.Second, "the bot greets alice", func() error {
				tr, err := ctl.Transcript(ctx, conv)
				if err != nil {
					return err
				}
				if countFrom(tr, botURI, "Hello alice") != 1 {
					return fmt.Errorf("transcript %q", texts(tr))
				}
				return nil
			})
			if code := bot.stop(t); code != 0 {
				t.Errorf("bot run exited %d:\n%s", code, bot.output())
			}
			if strings.Contains(bot.output(), "Example-Secret-1") || strings.Contains(bot.output(), token) {
				t.Errorf("a secret is in the output")
			}
		})
	}
}

// deleteKeys removes the test's keys from the shared Redis.
func deleteKeys(t *testing.T, prefix string) {
	o, err := redis.ParseURL(testRedisURL())
	if err != nil {
		t.Error(err)
		return
	}
	rdb := redis.NewClient(o)
	defer rdb.Close()
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Error(err)
	}
}
