package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// unitFile parses a systemd unit as INI: section → key → values (a key
// may repeat).
func unitFile(t *testing.T, text string) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	var sec string
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			sec = line[1 : len(line)-1]
			if out[sec] == nil {
				out[sec] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || sec == "" || strings.TrimSpace(k) == "" {
				t.Fatalf("deploy/ucwabot.service:%d: %q is not key=value inside a [section]", n, line)
			}
			out[sec][strings.TrimSpace(k)] = append(out[sec][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return out
}

// TestDeploy_systemd_unit_verifies_and_lets_the_dynamic_user_read_its_config
// checks deploy/ucwabot.service: it parses, has the keys the deployment
// depends on, takes its secrets as credentials, keeps /etc/ucwabot
// readable by the dynamic user, and its install steps do not make the
// configuration unreadable to it. With systemd-analyze on the machine the
// unit (pointing at the test's binary) must verify without a word.
func TestDeploy_systemd_unit_verifies_and_lets_the_dynamic_user_read_its_config(t *testing.T) {
	path := filepath.Join(repoRoot, "deploy", "ucwabot.service")
	text := readFile(t, path)
	unit := unitFile(t, text)
	for _, kv := range []struct{ sec, key, want string }{
		{"Service", "DynamicUser", "yes"},
		{"Service", "ExecStart", "/usr/local/bin/bot run --config /etc/ucwabot/bot.yaml"},
		{"Service", "ExecReload", "/bin/kill -HUP $MAINPID"},
		{"Service", "StateDirectory", "ucwabot"},
		{"Service", "WorkingDirectory", "/var/lib/ucwabot"},
		{"Service", "ConfigurationDirectory", "ucwabot"},
		{"Service", "ConfigurationDirectoryMode", "0755"},
		{"Service", "ReadOnlyPaths", "/etc/ucwabot"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Install", "WantedBy", "multi-user.target"},
	} {
		if got := unit[kv.sec][kv.key]; len(got) != 1 || got[0] != kv.want {
			t.Errorf("[%s] %s = %q, want %q", kv.sec, kv.key, got, kv.want)
		}
	}
	creds := unit["Service"]["LoadCredential"]
	if len(creds) < 2 {
		t.Errorf("LoadCredential = %q: the password and the admin token come as credentials", creds)
	}
	for _, c := range creds {
		name, src, ok := strings.Cut(c, ":")
		if !ok || name == "" || !strings.HasPrefix(src, "/etc/ucwabot/credentials/") {
			t.Errorf("LoadCredential=%s: want NAME:/etc/ucwabot/credentials/NAME", c)
		}
		// The unit's comment shows bot.yaml reading each credential by its path.
		if !strings.Contains(text, "/run/credentials/ucwabot.service/"+name) {
			t.Errorf("the unit does not show where credential %s appears (/run/credentials/ucwabot.service/%s)", name, name)
		}
	}
	if ef := unit["Service"]["EnvironmentFile"]; len(ef) > 0 {
		t.Errorf("EnvironmentFile = %q: secrets are credentials, not environment", ef)
	}
	// The install steps leave the configuration readable by any user (the
	// dynamic user owns nothing in /etc) and the credentials root-only.
	steps := regexp.MustCompile(`(?m)^#\s+(install .*)$`).FindAllStringSubmatch(text, -1)
	if len(steps) == 0 {
		t.Fatal("the unit shows no install steps")
	}
	for _, s := range steps {
		step := s[1]
		mode := regexp.MustCompile(`-m (\d{4})`).FindStringSubmatch(step)
		if mode == nil {
			t.Errorf("install step %q sets no mode", step)
			continue
		}
		secret := strings.Contains(step, "/etc/ucwabot/credentials")
		switch {
		case secret && mode[1] != "0600" && mode[1] != "0700":
			t.Errorf("install step %q: credentials are 0600 (directory 0700), root's", step)
		case !secret && strings.Contains(step, "/etc/ucwabot") && mode[1] != "0644" && mode[1] != "0755":
			t.Errorf("install step %q: the dynamic user cannot read mode %s", step, mode[1])
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Logf("systemd-analyze is not installed (%v): the unit was checked as INI only, not verified", err)
		return
	}
	// The unit as installed, with ExecStart pointing at this test's binary.
	dir := t.TempDir()
	local := filepath.Join(dir, "ucwabot.service")
	writeFile(t, local, strings.ReplaceAll(text, "/usr/local/bin/bot ", botBin+" "))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, analyze, "verify", local)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || strings.TrimSpace(out.String()) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out.String())
	}
}

// dockerignored reports whether the build context leaves path out, by
// the .dockerignore rules: patterns relative to the context with * and **,
// a match on a directory leaving out all below it, ! exceptions, the last
// matching line deciding.
func dockerignored(patterns []string, path string) bool {
	out := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/")
		re := "^" + regexp.QuoteMeta(p) + "(/.*)?$"
		re = strings.ReplaceAll(re, `\*\*/`, `(.*/)?`)
		re = strings.ReplaceAll(re, `\*`, `[^/]*`)
		re = strings.ReplaceAll(re, `\?`, `[^/]`)
		if regexp.MustCompile(re).MatchString(path) {
			out = !neg
		}
	}
	return out
}

func TestDeploy_dockerignore_keeps_history_stores_and_secrets_out(t *testing.T) {
	var patterns []string
	for _, l := range strings.Split(readFile(t, filepath.Join(repoRoot, ".dockerignore")), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, p := range []string{".git", ".git/config", "bot-data/ucwabot.db", "examples/config/bot-data/simulator.db",
		"state.db", ".env", "deploy/.env", "secrets.env", "deploy/secrets.env", "secrets/admin-token",
		"credentials/helpdesk-password", "cmd/bot/bot.test"} {
		if !dockerignored(patterns, p) {
			t.Errorf(".dockerignore lets %s into the image's build context", p)
		}
	}
	// Everything the build needs stays: every tracked file but the ones
	// above (git ls-files, when this is a checkout).
	files, err := exec.Command("git", "-C", repoRoot, "ls-files").Output()
	if err != nil {
		t.Logf("git ls-files: %v; checking the build's own files only", err)
		files = []byte("go.mod\ngo.sum\ncmd/bot/main.go\ncmd/bot/internal/config/secrets.go\ndeploy/Dockerfile\n")
	}
	n := 0
	for _, f := range strings.Fields(string(files)) {
		n++
		if dockerignored(patterns, f) {
			t.Errorf(".dockerignore leaves out %s, which the repository tracks", f)
		}
	}
	if n < 5 {
		t.Errorf("only %d files checked", n)
	}
}

func TestDeploy_Dockerfile_keeps_the_store_in_a_volume(t *testing.T) {
	df := readFile(t, filepath.Join(repoRoot, "deploy", "Dockerfile"))
	final := df[strings.LastIndex(df, "\nFROM "):]
	for _, want := range []string{`VOLUME ["/var/lib/ucwabot"]`, "UCWABOT_STORE_PATH=/var/lib/ucwabot/", "USER 65532:65532", "WORKDIR /var/lib/ucwabot"} {
		if !strings.Contains(final, want) {
			t.Errorf("the Dockerfile's final stage lacks %s", want)
		}
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "LICENSE")); err != nil {
		t.Error(err)
	}
	if lic := readFile(t, filepath.Join(repoRoot, "LICENSE")); !strings.Contains(lic, "Apache License\n                           Version 2.0, January 2004") {
		t.Error("LICENSE is not the Apache License 2.0")
	}
}

// TestDeploy_Dockerfile_build_stage_builds_a_static_binary runs the build
// stage's go build command of deploy/Dockerfile as written (its paths moved
// into a temporary directory), as far as this machine can without Docker:
// the binary must be static and report the version given as VERSION.
func TestDeploy_Dockerfile_build_stage_builds_a_static_binary(t *testing.T) {
	df := readFile(t, filepath.Join(repoRoot, "deploy", "Dockerfile"))
	build := df[:strings.LastIndex(df, "\nFROM ")]
	m := regexp.MustCompile(`(?s)\nRUN (CGO_ENABLED=0[^\n]*go build(?:[^\n]*\\\n)*[^\n]*)`).FindStringSubmatch(build)
	if m == nil {
		t.Fatal("the Dockerfile's build stage has no RUN CGO_ENABLED=0 ... go build")
	}
	out := t.TempDir()
	cmdline := strings.NewReplacer("/out/", out+"/", "${VERSION}", "v9.9.9-docker").Replace(m[1])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", cmdline)
	cmd.Dir = repoRoot
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &errb, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, errb.String())
	}
	bin := filepath.Join(out, "bot")
	v, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(v), "ucwabot v9.9.9-docker\n") {
		t.Errorf("%s version = %q, %v", bin, v, err)
	}
	// A static binary has no program interpreter (PT_INTERP) for the
	// distroless image to lack.
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked", bin)
		}
	}
	if fi, err := os.Stat(filepath.Join(out, "data")); err != nil || !fi.IsDir() {
		t.Errorf("the build stage's data directory: %v", err)
	}
}
