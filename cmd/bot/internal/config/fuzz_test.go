package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// fuzzConfigs are small documents that reach the parts of the loader the
// files under testdata and examples leave out.
var fuzzConfigs = []string{
	"accounts:\n  - address: bot@contoso.com\n    password_file: pw\nrules: [rules/]\n",
	"# env: UCWABOT_STORE_URL=redis://127.0.0.1:6379/2\n# env: UCWABOT_RULES=rules/, rules.yaml\n" +
		"# env: UCWABOT_ENGINE_BACKOFF_JITTER=0.5\n# env: UCWABOT_ADMIN_ALLOWED_HOSTS=bot.example.com\n" +
		"accounts:\n  - address: sip:bot@contoso.com\n    password_env: BOT_PASSWORD\nrules: [rules/]\n",
	"accounts:\n  - address: sip:bot@contoso.com\n    password_env: P\n    trusted_hosts: [pool.fabrikam.net]\n" +
		"    discovery_url: http://127.0.0.1:8443/root\n    insecure_http: true\n    ca_file: ca.pem\n" +
		"rules: [rules.yaml]\nstore: {url: 'rediss+cluster://node-1:6380?addr=node-2:6380', prefix: bot}\n" +
		"http: {listen: '[::1]:0'}\nadmin: {token_file: token, allowed_hosts: [bot.example.com]}\n" +
		"webhooks: {allowed_hosts: ['*.example.com']}\nlog: {format: text, level: debug}\n" +
		"engine: {workers: 2, queue_size: 1, shadow: true, instance_id: a, backoff: {initial: 1ms, max: 1h, multiplier: 1, jitter: 0}}\n" +
		"keepalive: {activity_interval: 3m38s, subscription_duration: 10m, poll_timeout: 30m}\n",
	"accounts: &a [{address: a@b.c, password_env: P}]\nrules: *a\n",
	"accounts:\n  - {address: a@b.c, password_env: P, \"odd\\nkey\": 1}\nrules: [rules/]\n",
	"engine: {backoff: {multiplier: NaN, jitter: .5}}\naccounts: [{address: a@b.c, password_env: P}]\nrules: [rules/]\n",
	"engine: {backoff: {multiplier: 2e0, jitter: .5}}\naccounts: [{address: a@b.c, password_env: P}]\nrules: [rules/]\n",
}

// FuzzLoadEnviron checks that the loader never panics; that every line of
// an error names the file's position (file:line...) or a variable
// ($UCWABOT_...), as the loader promises; and that a configuration that
// loads, written back out as YAML, loads again to the same settings.
// Lines "# env: NAME=value" at the top of a document set environment
// variables, as in testdata/broken.
func FuzzLoadEnviron(f *testing.F) {
	for _, pattern := range []string{"testdata/broken/*.yaml", "../../../../examples/config/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil || len(files) == 0 {
			f.Fatalf("no seeds %s: %v", pattern, err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
			// The same file with rules that exist, so that it can load.
			f.Add([]byte(strings.ReplaceAll(string(data), "/etc/ucwabot/rules/", "rules/")))
		}
	}
	for _, d := range fuzzConfigs {
		f.Add([]byte(d))
	}
	// Rule paths resolve against the file's directory: give them a
	// directory of their own that has rules/, ../rules/ and rules.yaml.
	dir := f.TempDir()
	conf := filepath.Join(dir, "conf")
	for _, d := range []string{filepath.Join(conf, "rules"), filepath.Join(dir, "rules")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(conf, "rules.yaml"), []byte("rules: []\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(conf, "fuzz.yaml")
	again := filepath.Join(conf, "again.yaml")

	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadEnviron(path, headerEnv(data))
		if err != nil {
			if c != nil {
				t.Fatal("LoadEnviron returned a config and an error")
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, path+":") && !strings.HasPrefix(line, "$"+EnvPrefix) {
					t.Fatalf("error line %q names neither the file's position nor a variable; whole error:\n%v", line, err)
				}
			}
			return
		}
		if c == nil {
			t.Fatal("LoadEnviron returned neither a config nor an error")
		}
		out, err := marshalConfig(c)
		if err != nil {
			t.Fatalf("write the loaded config: %v", err)
		}
		if err := os.WriteFile(again, out, 0o600); err != nil {
			t.Fatal(err)
		}
		c2, err := LoadEnviron(again, nil)
		if err != nil {
			t.Fatalf("the loaded config, written out, does not load again: %v\nwritten:\n%s", err, out)
		}
		if a, b := settings(c), settings(c2); !reflect.DeepEqual(a, b) {
			t.Fatalf("the loaded config loads again to other settings:\nfirst  %+v\nsecond %+v\nwritten:\n%s", a, b, out)
		}
	})
}

// marshalConfig writes c as a configuration file: YAML without the
// refused keys (which marshal as "password: {}").
func marshalConfig(c *Config) ([]byte, error) {
	var n yaml.Node
	if err := n.Encode(c); err != nil {
		return nil, err
	}
	dropRefused(&n)
	return yaml.Marshal(&n)
}

func dropRefused(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		var kept []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "password" && n.Content[i+1].Kind == yaml.MappingNode && len(n.Content[i+1].Content) == 0 {
				continue
			}
			kept = append(kept, n.Content[i], n.Content[i+1])
		}
		n.Content = kept
	}
	for _, child := range n.Content {
		dropRefused(child)
	}
}

// settings returns a copy of c's settings without where they came from,
// nil lists made empty (YAML writes both as []).
func settings(c *Config) Config {
	s := *c
	s.file, s.pos = "", nil
	s.Accounts = append([]Account{}, c.Accounts...)
	v := reflect.ValueOf(&s).Elem()
	emptyLists(v)
	return s
}

func emptyLists(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				emptyLists(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		for i := range v.Len() {
			emptyLists(v.Index(i))
		}
	}
}
