package config

import (
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const accountYAML = `accounts:
  - address: sip:bot@example.com
    discovery_url: %URL%
    password_env: BOT_PASSWORD
%EXTRA%rules: [rules/]
`

func accountConfig(url, extra string) string {
	return strings.NewReplacer("%URL%", url, "%EXTRA%", extra).Replace(accountYAML)
}

func TestParse_a_plain_http_discovery_url_needs_insecure_http(t *testing.T) {
	_, err := Parse([]byte(accountConfig("http://127.0.0.1:8443/root", "")), "bot.yaml", noEnv)
	if err == nil || !strings.Contains(err.Error(), "accounts[0].discovery_url") || !strings.Contains(err.Error(), "accounts[0].insecure_http") {
		t.Fatalf("plain http discovery_url: %v, want an error naming the key and insecure_http", err)
	}
	c, err := Parse([]byte(accountConfig("http://127.0.0.1:8443/root", "    insecure_http: true\n")), "bot.yaml", noEnv)
	if err != nil || !c.Accounts[0].InsecureHTTP {
		t.Fatalf("with insecure_http: %v", err)
	}
}

func TestCAFiles_checks_each_file_and_names_the_key(t *testing.T) {
	dir := t.TempDir()
	srv := httptest.NewTLSServer(nil)
	srv.Close()
	good := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "rules"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "bot.yaml")
	for name, tc := range map[string]struct{ file, want string }{
		"good":    {"ca.pem", ""},
		"not pem": {"bad.pem", "accounts[0].ca_file: " + bad + " holds no PEM certificate"},
		"missing": {"nope.pem", "accounts[0].ca_file: cannot read " + filepath.Join(dir, "nope.pem")},
	} {
		t.Run(name, func(t *testing.T) {
			yaml := accountConfig("https://lyncdiscover.example.com/", "    ca_file: "+tc.file+"\n")
			if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(cfgFile, noEnv)
			if err != nil {
				t.Fatal(err)
			}
			err = c.CAFiles()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bot.yaml:5") {
				t.Fatalf("CAFiles: %v, want %q at bot.yaml:5", err, tc.want)
			}
		})
	}
}

func TestParse_admin_and_webhook_hosts_are_checked(t *testing.T) {
	extra := "admin:\n  allowed_hosts: [bot.example.com, \"bot:80\"]\n  allow_loopback_without_token: true\nwebhooks:\n  allowed_hosts: [\"*.example.com\", \"https://x\"]\n"
	_, err := Parse([]byte(accountConfig("https://lyncdiscover.example.com/", "")+extra), "bot.yaml", noEnv)
	for _, want := range []string{`admin.allowed_hosts[1]: "bot:80"`, `webhooks.allowed_hosts[1]: "https://x"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	c, err := Parse([]byte(accountConfig("https://lyncdiscover.example.com/", "")+
		"admin:\n  allowed_hosts: [bot.example.com]\n  allow_loopback_without_token: true\nwebhooks:\n  allowed_hosts: [\"*.example.com\"]\n"), "bot.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Admin.AllowLoopbackWithoutToken || c.Admin.AllowedHosts[0] != "bot.example.com" || c.Webhooks.AllowedHosts[0] != "*.example.com" {
		t.Fatalf("admin %+v webhooks %+v", c.Admin, c.Webhooks)
	}
}
