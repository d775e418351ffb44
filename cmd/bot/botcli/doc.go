// Package botcli is the `bot` command: run, demo, config check, rules
// check, rules test, decode, sim and version. cmd/bot is this package with
// the standard plugins linked in; a team's own binary is the same main with
// one more blank import for its plugins:
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
