package botcli

import (
	"context"
	"flag"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/demo"
	"github.com/ucwabot/ucwabot/examples"
)

func demoCommand() *command {
	var (
		interactive bool
		verbose     bool
		web         bool
		listen      string
	)
	return &command{
		name: "demo",
		summary: `Start the built-in UCWA simulator, sign a bot in to it with the example rules
(examples/rules/helpdesk.yaml) and the embedded store, play a short scene
(someone invites the bot, a second person joins, they write, one leaves) and
print it as a transcript showing which rule fired for what. On a terminal the
scene is followed by an interactive mode in which you act as the people,
until Ctrl-C or "quit"; otherwise the command exits 0 after the scene.
With --web it serves the web console instead and prints its URL: act as the
people in the playground, watch each event's trace, edit the rules.`,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&interactive, "interactive", false, "read commands from standard input after the scene even when it is not a terminal")
			fs.BoolVar(&verbose, "v", false, "print the engine's log lines on standard error")
			fs.BoolVar(&web, "web", false, "serve the web console (live view, rules editor, playground) and print its URL instead of playing the scene")
			fs.StringVar(&listen, "listen", "127.0.0.1:0", "`address` of the web console with --web (loopback)")
		},
		run: func(ctx context.Context, stdio Stdio, fs *flag.FlagSet) error {
			if fs.NArg() > 0 {
				return usagef("takes no arguments")
			}
			o := demo.Options{
				Out:         stdio.Out,
				In:          stdio.In,
				Interactive: interactive || isTerminal(stdio.In),
				RulesName:   "examples/rules/helpdesk.yaml",
				Rules:       examples.HelpdeskRules,
				Web:         web,
				WebListen:   listen,
			}
			if verbose {
				o.Log = stdio.Err
			}
			return demo.Run(ctx, o)
		},
	}
}
