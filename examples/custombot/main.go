// Command custombot is a `bot` binary with a plugin of its own: the same
// main as cmd/bot, plus one blank import that registers the shout plugin.
// Build it with `go build ./examples/custombot`; its rules can then call
// `- shout: {suffix: "!"}`.
package main

import (
	"github.com/ucwabot/ucwabot/cmd/bot/botcli"

	_ "github.com/ucwabot/ucwabot/examples/customplugin/shout"
	_ "github.com/ucwabot/ucwabot/plugins/standard"
)

func main() { botcli.Run() }
