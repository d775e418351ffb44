// Package botcli is the `bot` command: run, demo, rules check, rules test,
// decode, sim and version. cmd/bot is this package with the standard
// plugins linked in; a team's own binary is the same main with one more
// blank import for its plugins:
//
//	package main
//
//	import (
//		"github.com/ucwabot/ucwabot/cmd/bot/botcli"
//
//		_ "example.com/yourteam/shout"
//		_ "github.com/ucwabot/ucwabot/plugins/standard"
//	)
//
//	func main() { botcli.Run() }
//
// examples/custombot is such a binary.
package botcli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Run runs the sub-command named by the process's arguments, with the
// process's standard streams, until it ends or SIGINT or SIGTERM asks it
// to stop, and exits with its code.
func Run() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
