package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The custom binary knows the shout plugin as well as the standard ones,
// and checks its parameters when the rules load.
func TestCustombot_links_its_own_plugin(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "custombot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", `rules:
  - name: shout back
    on: message.received
    do:
      - shout: {suffix: "!"}
      - log: {message: "shouted at {{.Participant.URI}}"}
`)
	out, err := exec.Command(bin, "rules", "check", good).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok: 1 rules") {
		t.Fatalf("rules check good.yaml: %v\n%s", err, out)
	}
	bad := write("bad.yaml", `rules:
  - name: shout back
    on: message.received
    do:
      - shout: {suffix: "far too long a suffix"}
`)
	out, err = exec.Command(bin, "rules", "check", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "bad.yaml:5:") || !strings.Contains(string(out), "at most 10 characters") {
		t.Fatalf("rules check bad.yaml: err %v\n%s", err, out)
	}
}
