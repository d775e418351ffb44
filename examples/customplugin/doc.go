// Package customplugin shows how to extend ucwabot with a plugin of your
// own. Package shout is the complete plugin (the README quotes it); its
// test drives it through a real bot with package bottest.
//
// To run a bot with it, copy cmd/bot into your module and add one line to
// its plugins.go, beside the standard plugins:
//
//	import (
//		_ "github.com/ucwabot/ucwabot/plugins/standard"
//		_ "example.com/yourbot/shout"
//	)
//
// Rules then call it by name:
//
//	rules:
//	  - name: shout back
//	    on: [message.received]
//	    do:
//	      - shout: {suffix: "!!!"}
package customplugin
