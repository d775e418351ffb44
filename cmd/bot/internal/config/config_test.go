package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodYAML = `accounts:
  - address: sip:bot@example.com
    discovery_url: https://lyncdiscover.example.com/
    password_env: BOT_PASSWORD
    subscribe: [sip:alice@example.com]
rules: [rules/]
store:
  url: redis://127.0.0.1:6379/0
engine:
  workers: 4
  handler_timeout: 5s
keepalive:
  activity_interval: 2m
`

func noEnv(string) string { return "" }

func envMap(m map[string]string) Getenv {
	return func(k string) string { return m[k] }
}

func TestParse_reads_settings_over_defaults(t *testing.T) {
	c, err := Parse([]byte(goodYAML), "bot.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Accounts[0].Address; got != "sip:bot@example.com" {
		t.Errorf("address = %q", got)
	}
	if got := c.Accounts[0].Subscribe; len(got) != 1 || got[0] != "sip:alice@example.com" {
		t.Errorf("subscribe = %q", got)
	}
	if c.Engine.Workers != 4 || c.Engine.HandlerTimeout != 5*time.Second {
		t.Errorf("engine = %+v", c.Engine)
	}
	if c.KeepAlive.ActivityInterval != 2*time.Minute {
		t.Errorf("activity_interval = %s", c.KeepAlive.ActivityInterval)
	}
	// Defaults survive where the file says nothing.
	if c.Engine.QueueSize != 256 || c.HTTP.Listen != DefaultListen || c.Log.Format != "json" || c.KeepAlive.PollTimeout != 180*time.Second {
		t.Errorf("defaults lost: %+v %+v %+v", c.Engine, c.HTTP, c.Log)
	}
	if got := c.Pos("engine.workers").String(); got != "bot.yaml:10:3" {
		t.Errorf("position of engine.workers = %q", got)
	}
}

func TestParse_reports_every_error_with_position_and_key(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string
	}{
		{
			name: "misspelt key",
			yaml: "accounts:\n  - address: bot@example.com\n    pasword: x\n    password_env: P\nrules: [r.yaml]\n",
			want: []string{"bot.yaml:3:5: accounts[0].pasword: unknown key"},
		},
		{
			name: "near miss gets a suggestion",
			yaml: "accounts:\n  - adress: bot@example.com\n    password_env: P\nrules: [r.yaml]\n",
			want: []string{"bot.yaml:2:5: accounts[0].adress: unknown key (did you mean address?)"},
		},
		{
			name: "trusted host that is a URL",
			yaml: "accounts:\n  - address: bot@example.com\n    password_env: P\n    trusted_hosts: [pool01.fabrikam.net, 'https://evil.example/']\nrules: [r.yaml]\n",
			want: []string{"bot.yaml:4:42: accounts[0].trusted_hosts[1]: \"https://evil.example/\" is not a host name such as pool01.fabrikam.net"},
		},
		{
			name: "inline password refused",
			yaml: "accounts:\n  - address: bot@example.com\n    password: hunter2\nrules: [r.yaml]\n",
			want: []string{"bot.yaml:3:5: accounts[0].password: inline passwords are not accepted; use password_env or password_file"},
		},
		{
			name: "bad values",
			yaml: "accounts:\n  - address: bot@example.com\n    password_env: P\nrules: [r.yaml]\nengine:\n  workers: eight\n  handler_timeout: 10\n  shadow: maybe\n",
			want: []string{
				`bot.yaml:6:12: engine.workers: "eight" is not a whole number`,
				`bot.yaml:7:20: engine.handler_timeout: "10" is not a duration (write a number with a unit, such as 10s or 3m)`,
				`bot.yaml:8:11: engine.shadow: "maybe" is not true or false`,
			},
		},
		{
			name: "wrong shape",
			yaml: "accounts: bot@example.com\nrules: r.yaml\n",
			want: []string{
				`bot.yaml:1:11: accounts: expected a list, got "bot@example.com"`,
				`bot.yaml:2:8: rules: expected a list, got "r.yaml"`,
			},
		},
		{
			name: "validation errors carry the key's position",
			yaml: "accounts:\n  - address: not-an-address\n    password_env: P\n  - address: bot@example.com\nrules: [r.yaml]\nlog:\n  format: xml\n  level: loud\nkeepalive:\n  activity_interval: 5m\n",
			want: []string{
				`bot.yaml:2:5: accounts[0].address: "not-an-address" is not a sign-in address such as bot@example.com`,
				`bot.yaml:4:5: accounts[1]: set password_env or password_file`,
				`bot.yaml:7:3: log.format: "xml" is not json or text`,
				`bot.yaml:8:3: log.level: "loud" is not trace, debug, info, warn or error`,
				`bot.yaml:10:3: keepalive.activity_interval: 5m0s must be above 0 and, with its 10% jitter, under 4m (at most 3m38s)`,
			},
		},
		{
			name: "an activity interval whose jitter can reach 4m",
			yaml: "accounts:\n  - address: bot@example.com\n    password_env: P\nrules: [r.yaml]\nkeepalive:\n  activity_interval: 3m40s\n",
			want: []string{
				`bot.yaml:6:3: keepalive.activity_interval: 3m40s must be above 0 and, with its 10% jitter, under 4m (at most 3m38s)`,
			},
		},
		{
			name: "missing sections name the file",
			yaml: "log:\n  level: debug\n",
			want: []string{
				"bot.yaml:1:1: accounts: at least one account is required",
				"bot.yaml:1:1: rules: at least one rules file or directory is required",
			},
		},
		{
			name: "non-loopback listen needs an admin token",
			yaml: "accounts:\n  - address: bot@example.com\n    password_env: P\nrules: [r.yaml]\nhttp:\n  listen: 0.0.0.0:8080\n",
			want: []string{`bot.yaml:6:3: http.listen: "0.0.0.0:8080" is not a loopback address: set admin.token_env or admin.token_file so that admin calls need a token`},
		},
		{
			name: "environment values are checked and named",
			yaml: "accounts:\n  - address: bot@example.com\n    password_env: P\nrules: [r.yaml]\n",
			env:  map[string]string{"UCWABOT_ENGINE_WORKERS": "many", "UCWABOT_LOG_FORMAT": "xml"},
			want: []string{
				`$UCWABOT_ENGINE_WORKERS: engine.workers: "many" is not a whole number`,
			},
		},
		{
			name: "syntax error keeps the line",
			yaml: "accounts:\n  - address: bot@example.com\n   bad\n",
			want: []string{"bot.yaml:1: did not find expected '-' indicator"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "bot.yaml", envMap(tt.env))
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParse_never_echoes_an_inline_password(t *testing.T) {
	_, err := Parse([]byte("accounts:\n  - address: bot@example.com\n    password: S3cr3t-value\nrules: [r]\n"), "bot.yaml", noEnv)
	if err == nil || strings.Contains(err.Error(), "S3cr3t-value") {
		t.Fatalf("error %v", err)
	}
}

func TestParse_environment_overrides_the_file(t *testing.T) {
	env := envMap(map[string]string{
		"UCWABOT_STORE_URL":              "redis://10.0.0.1:6379/2",
		"UCWABOT_HTTP_LISTEN":            "127.0.0.1:9999",
		"UCWABOT_LOG_LEVEL":              "debug",
		"UCWABOT_ENGINE_HANDLER_TIMEOUT": "3s",
		"UCWABOT_ENGINE_SHADOW":          "true",
		"UCWABOT_RULES":                  "a.yaml, b/",
	})
	c, err := Parse([]byte(goodYAML), "bot.yaml", env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.URL != "redis://10.0.0.1:6379/2" || c.HTTP.Listen != "127.0.0.1:9999" || c.Log.Level != "debug" ||
		c.Engine.HandlerTimeout != 3*time.Second || !c.Engine.Shadow {
		t.Errorf("overrides not applied: %+v", c)
	}
	if len(c.Rules) != 2 || c.Rules[0] != "a.yaml" || c.Rules[1] != "b/" {
		t.Errorf("rules = %q", c.Rules)
	}
	if got := c.Pos("log.level").String(); got != "$UCWABOT_LOG_LEVEL" {
		t.Errorf("position = %q", got)
	}
}

func TestEnvVars_name_every_setting_outside_accounts(t *testing.T) {
	names := map[string]string{}
	for _, v := range EnvVars() {
		names[v.Name] = v.Key
	}
	for name, key := range map[string]string{
		"UCWABOT_STORE_URL":                       "store.url",
		"UCWABOT_HTTP_LISTEN":                     "http.listen",
		"UCWABOT_LOG_LEVEL":                       "log.level",
		"UCWABOT_RULES":                           "rules",
		"UCWABOT_ENGINE_BACKOFF_MULTIPLIER":       "engine.backoff.multiplier",
		"UCWABOT_KEEPALIVE_SUBSCRIPTION_DURATION": "keepalive.subscription_duration",
	} {
		if names[name] != key {
			t.Errorf("%s -> %q, want %q", name, names[name], key)
		}
	}
	for name := range names {
		if strings.Contains(name, "ACCOUNTS") || strings.Contains(name, "PASSWORD") {
			t.Errorf("unexpected variable %s", name)
		}
	}
}

func TestLoad_resolves_relative_paths_against_the_config_directory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bot.yaml")
	abs := filepath.Join(t.TempDir(), "r.yaml")
	yaml := "accounts:\n  - address: bot@example.com\n    password_file: secret.txt\nrules: [rules/, " + abs + "]\nadmin:\n  token_file: token\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "rules", "a.yaml"), abs} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("rules: []\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Load(path, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rules[0] != filepath.Join(dir, "rules") || c.Rules[1] != abs {
		t.Errorf("rules = %q", c.Rules)
	}
	if c.Accounts[0].PasswordFile != filepath.Join(dir, "secret.txt") || c.Admin.TokenFile != filepath.Join(dir, "token") {
		t.Errorf("files not resolved: %q %q", c.Accounts[0].PasswordFile, c.Admin.TokenFile)
	}
	if c.Store.Path != DefaultStorePath {
		t.Errorf("store path = %q", c.Store.Path)
	}
}

func TestPassword_reads_env_or_file_and_errors_name_the_source(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := "accounts:\n  - address: a@example.com\n    password_env: A_PW\n  - address: b@example.com\n    password_file: " + file + "\n  - address: c@example.com\n    password_env: C_PW\nrules: [r]\n"
	c, err := Parse([]byte(yaml), "bot.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	env := envMap(map[string]string{"A_PW": "from-env"})
	if pw, err := c.Password(0, env); err != nil || pw != "from-env" {
		t.Errorf("account 0: %q, %v", pw, err)
	}
	if pw, err := c.Password(1, env); err != nil || pw != "from-file" {
		t.Errorf("account 1: %q, %v", pw, err)
	}
	_, err = c.Password(2, env)
	if want := "bot.yaml:7:5: accounts[2].password_env: environment variable C_PW is not set or empty"; err == nil || err.Error() != want {
		t.Errorf("account 2: %v, want %s", err, want)
	}
}

func TestExampleConfigs_load(t *testing.T) {
	for _, name := range []string{"sfb-server.yaml", "simulator.yaml"} {
		path := filepath.Join("..", "..", "..", "..", "examples", "config", name)
		// The server example's rules live under /etc/ucwabot, which this
		// machine has not got; the variable points them at the examples.
		rules, err := filepath.Abs(filepath.Join("..", "..", "..", "..", "examples", "rules"))
		if err != nil {
			t.Fatal(err)
		}
		env := envMap(map[string]string{"UCWABOT_RULES": rules})
		if _, err := Load(path, env); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDocs_list_every_environment_variable_and_key(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, v := range EnvVars() {
		if !strings.Contains(doc, "| `"+v.Name+"` | `"+v.Key+"` |") {
			t.Errorf("docs/config.md lacks the row for %s (%s)", v.Name, v.Key)
		}
	}
	for _, key := range []string{"address", "discovery_url", "trusted_hosts", "insecure_http", "ca_file", "username", "password_env", "password_file", "user_agent", "endpoint_id", "subscribe"} {
		if !strings.Contains(doc, "| `"+key+"` |") {
			t.Errorf("docs/config.md lacks accounts key %s", key)
		}
	}
}

func TestREADME_configuration_example_parses_with_trusted_hosts(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "## Configuration")
	if i < 0 {
		t.Fatal("README has no Configuration section")
	}
	block := readme[i:]
	start := strings.Index(block, "```yaml\n")
	end := strings.Index(block[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("the Configuration section has no yaml block")
	}
	c, err := Parse([]byte(block[start+8:start+8+end]), "README.md", noEnv)
	if err != nil {
		t.Fatalf("README configuration example: %v", err)
	}
	if len(c.Accounts) != 1 || len(c.Accounts[0].TrustedHosts) == 0 {
		t.Fatalf("README configuration example shows no trusted_hosts: %+v", c.Accounts)
	}
}
