package rules_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/rules"
)

// describeSet renders what the loader made of the files: every rule with
// its position, kinds, condition, order keys, cooldown and handler calls.
func describeSet(s *rules.Set) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version %s\nzone %s\nsubscribe %v\n", s.Version(), s.Location(), s.Subscriptions())
	for _, r := range s.Rules() {
		fmt.Fprintf(&b, "\nrule %q at %s:%d:%d\n", r.Name, filepath.ToSlash(r.File), r.Line, r.Col)
		fmt.Fprintf(&b, "  on %v enabled=%v priority=%d stop=%v\n", r.On, r.Enabled, r.Priority, r.Stop)
		if r.When != "" {
			fmt.Fprintf(&b, "  when %s\n", strings.TrimSpace(r.When))
		}
		if c := r.Cooldown; c != nil {
			fmt.Fprintf(&b, "  cooldown %s conversation=%v participant=%v\n", c.Window, c.PerConversation, c.PerParticipant)
		}
		for _, st := range r.Do {
			params := "-"
			if st.Params != nil {
				params = fmt.Sprintf("%d keys", len(st.Params.Content)/2)
			}
			fmt.Fprintf(&b, "  do %s (%s) at %d:%d\n", st.Plugin, params, st.Line, st.Col)
		}
	}
	return b.String()
}

// The loader's output for testdata/dir (a directory with an include, a
// .yml file, a cases file and a text file) and for testdata/golden/full.yaml
// (every key of the format) is compared with its .golden file;
// go test ./rules -run Golden -args -update rewrites them.
func TestGoldenLoadedSet(t *testing.T) {
	for _, path := range []string{"testdata/dir", "testdata/golden/full.yaml"} {
		t.Run(path, func(t *testing.T) { goldenSet(t, path) })
	}
}

func goldenSet(t *testing.T, path string) {
	set, err := rules.Load(rules.Options{}, path)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, strings.TrimSuffix(path, ".yaml")+".golden", describeSet(set))
}
