package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestHelp_prints_the_usage_once_on_stdout(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"run", "--help"}, {"config", "check", "--help"}, {"help", "run"}} {
		r := runBot(t, "", nil, args...)
		if r.code != 0 || r.stderr != "" || strings.Count(r.stdout, "Usage: bot") != 1 {
			t.Errorf("bot %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
}

func TestVersion_flag_and_command_print_version_commit_and_go(t *testing.T) {
	want := regexp.MustCompile(`^ucwabot ` + regexp.QuoteMeta(testVersion) + `\ncommit: (unknown|[0-9a-f]{40}(\+dirty)?)\ngo: ` +
		regexp.QuoteMeta(runtime.Version()) + ` ` + runtime.GOOS + `/` + runtime.GOARCH + `\n$`)
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		r := runBot(t, "", nil, args...)
		if r.code != 0 || !want.MatchString(r.stdout) || r.stderr != "" {
			t.Errorf("bot %s: exit %d, stdout %q, stderr %q", args[0], r.code, r.stdout, r.stderr)
		}
	}
}

func TestGroup_without_a_subcommand_lists_its_subcommands(t *testing.T) {
	r := runBot(t, "", nil, "rules")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "Usage: bot rules <command>") ||
		!strings.Contains(r.stderr, "  rules check ") || !strings.Contains(r.stderr, "  rules test ") || strings.Contains(r.stderr, "  run ") {
		t.Errorf("bot rules: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runBot(t, "", nil, "rules", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "  rules check ") || r.stderr != "" {
		t.Errorf("bot rules --help: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runBot(t, "", nil, "config")
	if r.code != 2 || !strings.Contains(r.stderr, "  config check ") {
		t.Errorf("bot config: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestMistyped_command_gets_the_closest_one(t *testing.T) {
	for args, want := range map[string]string{
		"runn":        "bot: unknown command runn; did you mean run?\n",
		"dmeo":        "bot: unknown command dmeo; did you mean demo?\n",
		"rules chek":  "bot: unknown command rules chek; did you mean rules check?\n",
		"config chek": "bot: unknown command config chek; did you mean config check?\n",
		"verison":     "bot: unknown command verison; did you mean version?\n",
	} {
		r := runBot(t, "", nil, strings.Fields(args)...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, want) || r.stdout != "" {
			t.Errorf("bot %s: exit %d, stderr %q, want it to start %q", args, r.code, r.stderr, want)
		}
	}
}

// configFile writes a configuration (with an empty rules directory beside
// it) and returns its path.
func configFile(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules", "bot.yaml"), e2eRules)
	path := filepath.Join(dir, "bot.yaml")
	writeFile(t, path, text)
	return path
}

func TestConfigCheck_validates_without_starting_anything(t *testing.T) {
	good := configFile(t, `accounts:
  - address: sip:bot@contoso.com
    discovery_url: https://lyncdiscover.contoso.com/
    password_env: BOT_PASSWORD
rules: [rules]
store:
  url: redis://127.0.0.1:1/0
http:
  listen: 127.0.0.1:1
`)
	// Neither the Redis URL nor the password need to work: nothing starts.
	r := runBot(t, "", nil, "config", "check", "--config", good)
	if r.code != 0 || !regexp.MustCompile(`^ok: .*bot.yaml: 1 accounts, 2 rules \(version [\w:]+\), Redis store\n$`).MatchString(r.stdout) {
		t.Errorf("good config: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	bad := configFile(t, `accounts:
  - address: sip:bot@contoso.com
    password_env: BOT_PASSWORD
rules: [rules, missing]
store:
  url: redis:localhost:6379
http:
  listen: 127.0.0.1:80800
`)
	r = runBot(t, "", []string{"UCWABOT_ENGINE_WORKRS=4"}, "config", "check", "--config", bad)
	want := []string{
		bad + `:6:3: store.url: "redis:localhost:6379": missing "//" after "redis:" (write redis://localhost:6379)`,
		bad + `:8:3: http.listen: "127.0.0.1:80800": port "80800" is not a number in 0..65535`,
	}
	if r.code != 1 || r.stdout != "" {
		t.Errorf("bad config: exit %d, stdout %q", r.code, r.stdout)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	// Once the file is right, the missing rules path and the mistyped
	// variable are next.
	writeFile(t, bad, strings.NewReplacer("redis:localhost:6379", "redis://localhost:6379", "80800", "8080").Replace(readFile(t, bad)))
	r = runBot(t, "", []string{"UCWABOT_ENGINE_WORKRS=4"}, "config", "check", "--config", bad)
	if w := bad + `:4:16: rules[1]: "missing" (` + filepath.Join(filepath.Dir(bad), "missing") + `) does not exist`; r.code != 1 || !strings.Contains(r.stderr, w) {
		t.Errorf("missing rules: exit %d, stderr %q, want %q", r.code, r.stderr, w)
	}
	writeFile(t, bad, strings.Replace(readFile(t, bad), "rules: [rules, missing]", "rules: [rules]", 1))
	r = runBot(t, "", []string{"UCWABOT_ENGINE_WORKRS=4"}, "config", "check", "--config", bad)
	if w := "$UCWABOT_ENGINE_WORKRS: unknown variable (did you mean UCWABOT_ENGINE_WORKERS, which sets engine.workers?)"; r.code != 1 || !strings.Contains(r.stderr, w) {
		t.Errorf("mistyped variable: exit %d, stderr %q, want %q", r.code, r.stderr, w)
	}
}

// A Redis URL that points at something that never answers fails the start
// within the dial bound, naming the key, its position and the URL without
// its password.
func TestRun_fails_fast_when_Redis_does_not_answer(t *testing.T) {
	// A listener that accepts and never answers: the worst case, as a
	// refused connection fails at once anyway.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	const password = "Redis-Secret-99"
	path := configFile(t, `accounts:
  - address: sip:bot@contoso.com
    discovery_url: http://127.0.0.1:1/Autodiscover/AutodiscoverService.svc/root
    insecure_http: true
    password_env: BOT_PASSWORD
rules: [rules]
store:
  url: redis://:`+password+`@`+l.Addr().String()+`/0
`)
	start := time.Now()
	r := runBot(t, "", []string{"BOT_PASSWORD=pw"}, "run", "--config", path)
	took := time.Since(start)
	want := path + `:8:3: store.url: Redis at "redis://:xxxxx@` + l.Addr().String() + `/0" did not answer within 5s`
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
	if strings.Contains(r.stderr, password) {
		t.Errorf("the Redis password is in the output")
	}
	// 5s bound plus the start of a process on a busy machine.
	if took > 30*time.Second {
		t.Errorf("bot run took %s to give up", took)
	}

	// A port nobody listens on is refused at once, with the same words.
	path = configFile(t, strings.Replace(readFile(t, path), l.Addr().String(), freeAddr(t), 1))
	r = runBot(t, "", []string{"BOT_PASSWORD=pw"}, "run", "--config", path)
	if r.code != 1 || !strings.Contains(r.stderr, path+`:8:3: store.url: Redis at "redis://:xxxxx@`) || !strings.Contains(r.stderr, "does not answer") {
		t.Errorf("refused: exit %d, stderr %q", r.code, r.stderr)
	}
}

// The default embedded store path is ./bot-data/ucwabot.db; bot run creates
// the directory (0700) instead of failing on it.
func TestRun_creates_the_embedded_store_directory(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "bot-data", "nested", "ucwabot.db")
	path := configFile(t, `accounts:
  - address: sip:bot@contoso.com
    discovery_url: http://127.0.0.1:1/Autodiscover/AutodiscoverService.svc/root
    insecure_http: true
    password_env: BOT_PASSWORD
rules: [rules]
store:
  path: `+store+`
http:
  listen: `+freeAddr(t)+`
`)
	p := startBot(t, []string{"BOT_PASSWORD=pw"}, "run", "--config", path)
	p.waitFor(t, regexp.MustCompile(`serving /healthz`), 30*time.Second)
	fi, err := os.Stat(filepath.Dir(store))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("store directory: %v %v", fi, err)
	}
	if _, err := os.Stat(store); err != nil {
		t.Error(err)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d:\n%s", code, p.output())
	}
}
