// Package customplugin shows how to extend ucwabot with a plugin of your
// own. Package shout is the complete plugin (the README quotes it); its
// test drives it through a real bot with package bottest.
//
// To run a bot with it, build a binary that is cmd/bot's main with one more
// blank import, as examples/custombot does:
//
//	import (
//		"github.com/ucwabot/ucwabot/cmd/bot/botcli"
//
//		_ "example.com/yourbot/shout"
//		_ "github.com/ucwabot/ucwabot/plugins/standard"
//	)
//
//	func main() { botcli.Run() }
//
// Rules then call it by name:
//
//	rules:
//	  - name: shout back
//	    on: [message.received]
//	    do:
//	      - shout: {suffix: "!!!"}
package customplugin
