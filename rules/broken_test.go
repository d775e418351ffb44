package rules_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/plugins"
	"github.com/ucwabot/ucwabot/rules"
)

// Each testdata/broken/NAME.yaml is a rules file with a mistake an operator
// makes; NAME.err beside it is the exact error text a load gives, with
// every plugin of the repository linked in, as `bot rules check` loads.
// go test ./rules -run Broken -args -update rewrites the .err files.
func TestBrokenRulesFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/broken/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("%d broken files, want at least 40", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			set, err := rules.Load(rules.Options{Build: plugins.Default.Build}, f)
			if err == nil {
				set.Close()
				t.Fatalf("%s loaded without an error", f)
			}
			checkGolden(t, strings.TrimSuffix(f, ".yaml")+".err", err.Error()+"\n")
		})
	}
}
