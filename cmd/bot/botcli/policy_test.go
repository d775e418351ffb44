package botcli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/logging"
	_ "github.com/ucwabot/ucwabot/plugins/builtin"
	"github.com/ucwabot/ucwabot/rules"
)

func TestRules_webhooks_allowed_hosts_and_secret_registration(t *testing.T) {
	var out bytes.Buffer
	log, redactor, err := logging.New(&out, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	const secret = "hook-secret-5be1d0"
	path := filepath.Join(t.TempDir(), "rules.yaml")
	write := func(url string) {
		t.Helper()
		y := "rules:\n  - name: hook\n    on: [message.received]\n    do:\n      - webhook: {url: \"" + url + "\", secret: " + secret + "}\n"
		if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	allowed := []string{"hooks.example.com", "*.corp.example"}

	write("https://evil.example/steal")
	_, err = rules.Load(serviceRuleOptions(allowed, redactor), path)
	if err == nil || !strings.Contains(err.Error(), "webhooks.allowed_hosts") || !strings.Contains(err.Error(), "evil.example") || !strings.Contains(err.Error(), "rules.yaml:5") {
		t.Fatalf("a webhook to a host outside the allow-list: %v, want an error naming the host, the key and the position", err)
	}
	for _, u := range []string{"https://hooks.example.com/x", "https://a.b.corp.example/x"} {
		write(u)
		set, err := rules.Load(serviceRuleOptions(allowed, redactor), path)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		set.Close()
	}
	log.WithField("params", "secret="+secret).Info("a line that would leak the webhook secret")
	if strings.Contains(out.String(), secret) {
		t.Fatalf("the webhook secret reached the log: %s", out.String())
	}
}
