package config

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/broken/*.err from the errors the files get")

// Each file in testdata/broken is a configuration with mistakes; its .err
// file holds the exact errors LoadEnviron reports, one per line, each with
// file:line:col (or $VARIABLE) and the key. Lines "# env: NAME=value" at
// the top of a file set environment variables for it.
func TestBroken_configs_get_the_exact_errors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "broken", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Fatalf("%d broken configurations, want at least 25", len(files))
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = LoadEnviron(path, headerEnv(data))
			if err == nil {
				t.Fatalf("%s loads without an error", path)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(path, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestBroken -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("errors of %s:\n%s\nwant (%s):\n%s", path, got, golden, want)
			}
			if strings.Contains(got, "Hunter2") {
				t.Errorf("a password from the file is in the error")
			}
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				if !strings.HasPrefix(line, path+":") && !strings.HasPrefix(line, "$UCWABOT_") {
					t.Errorf("error line %q names neither the file's position nor a variable", line)
				}
			}
		})
	}
}

// headerEnv returns the variables of the "# env: NAME=value" lines that
// start data.
func headerEnv(data []byte) []string {
	var env []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		kv, ok := strings.CutPrefix(sc.Text(), "# env: ")
		if !ok {
			break
		}
		env = append(env, kv)
	}
	return env
}
