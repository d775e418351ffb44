package botcli

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Version is the version the binary reports. cmd/bot sets it from its own
// main.version, which the build sets with -ldflags "-X main.version=v1.2.3";
// when empty, the module's build information is used.
var Version = ""

func versionCommand() *command {
	return &command{
		name: "version",
		summary: `Print the version of this binary (from -ldflags -X main.version, else the
module's build info), the VCS commit it was built from and the Go version.
"bot --version" is the same.`,
		run: func(_ context.Context, io Stdio, fs *flag.FlagSet) error {
			if fs.NArg() > 0 {
				return usagef("takes no arguments")
			}
			b := readBuild()
			fmt.Fprintf(io.Out, "ucwabot %s\ncommit: %s\ngo: %s %s/%s\n", b.version, b.commit, b.goVersion, runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

// build describes the binary.
type build struct {
	version   string // Version, the module version, or "(devel)"
	commit    string // the VCS revision, "+dirty" when modified; "unknown" without VCS stamping
	goVersion string
}

// readBuild reads the binary's build information (runtime/debug).
func readBuild() build {
	b := build{version: Version, commit: "unknown", goVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if b.version == "" {
			b.version = "(unknown)"
		}
		return b
	}
	if bi.GoVersion != "" {
		b.goVersion = bi.GoVersion
	}
	if b.version == "" {
		b.version = bi.Main.Version
	}
	if b.version == "" {
		b.version = "(devel)"
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
	if rev != "" {
		b.commit = rev + dirty
	}
	return b
}

// buildInfo is the ucwabot_build_info gauge: always 1, the build in its
// labels, so a dashboard shows which binary every instance runs.
func buildInfo() prometheus.Collector {
	b := readBuild()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "ucwabot",
		Name:      "build_info",
		Help:      "The running binary: version, VCS commit and Go version (always 1).",
	}, []string{"version", "commit", "go_version"})
	g.WithLabelValues(b.version, b.commit, b.goVersion).Set(1)
	return g
}
