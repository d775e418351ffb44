// Command bot is the ucwabot service: it signs bot accounts in to Skype for
// Business over UCWA and answers their conversations by rules. Run
// `bot help` for the sub-commands.
//
// The command is package botcli with the plugins of plugins.go linked in.
package main

import "github.com/ucwabot/ucwabot/cmd/bot/botcli"

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	botcli.Version = version
	botcli.Run()
}
