package botcli

import (
	"context"
	"flag"
	"fmt"
	"runtime/debug"
)

// Version is the version the binary reports. cmd/bot sets it from its own
// main.version, which the build sets with -ldflags "-X main.version=v1.2.3";
// when empty, the module's build information is used.
var Version = ""

func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "Print the version of this binary (from -ldflags -X main.version, else the module's build info).",
		run: func(_ context.Context, io Stdio, fs *flag.FlagSet) error {
			if fs.NArg() > 0 {
				return usagef("takes no arguments")
			}
			fmt.Fprintln(io.Out, "ucwabot "+buildVersion())
			return nil
		},
	}
}

// buildVersion returns the version, the VCS revision when built from a
// checkout, or "(devel)".
func buildVersion() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" && (v == "(devel)" || v == "") {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return fmt.Sprintf("%s %s%s", v, rev, dirty)
	}
	return v
}
