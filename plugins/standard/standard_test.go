package standard_test

import (
	"strings"
	"testing"

	"github.com/ucwabot/ucwabot/plugins"
	_ "github.com/ucwabot/ucwabot/plugins/standard"
)

func TestStandard_links_every_plugin(t *testing.T) {
	names := strings.Join(plugins.Default.Names(), ",")
	for _, want := range []string{"accept", "decline", "faq", "forward", "leave", "log", "oncall", "reply", "set", "unset", "webhook"} {
		if !strings.Contains(","+names+",", ","+want+",") {
			t.Errorf("plugin %q is not registered (have %s)", want, names)
		}
	}
}
