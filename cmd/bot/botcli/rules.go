package botcli

import (
	"context"
	"flag"
	"fmt"

	"github.com/ucwabot/ucwabot/plugins"
	"github.com/ucwabot/ucwabot/rules"
	"github.com/ucwabot/ucwabot/rules/rulestest"
)

// ruleOptions loads rules with the plugins linked into this binary, so
// unknown plugins and bad parameters are load errors.
func ruleOptions() rules.Options {
	return rules.Options{Build: plugins.Default.Build}
}

func rulesCheckCommand() *command {
	return &command{
		name: "rules check",
		args: "PATH...",
		summary: `Load rule files and directories as the service would, and print every error
in every file with its file:line:column, rule and field. Exit 1 on any error.`,
		run: func(_ context.Context, stdio Stdio, fs *flag.FlagSet) error {
			if fs.NArg() == 0 {
				return usagef("needs at least one PATH")
			}
			set, err := rules.Load(ruleOptions(), fs.Args()...)
			if err != nil {
				return err
			}
			defer set.Close()
			fmt.Fprintf(stdio.Out, "ok: %d rules, version %s\n", len(set.Rules()), set.Version())
			return nil
		},
	}
}

func rulesTestCommand() *command {
	var cases string
	return &command{
		name: "rules test",
		args: "PATH...",
		summary: `Run rule test cases (docs/rules.md, "Rule tests") against rule files: each case
feeds an event, with the conversation's state and presence, and asserts which
rules fire and which handler calls result. No server is needed. Exit 1 when a
case fails.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cases, "cases", "", "the `CASES.yaml` file of test cases (required)")
		},
		run: func(_ context.Context, stdio Stdio, fs *flag.FlagSet) error {
			if fs.NArg() == 0 {
				return usagef("needs at least one PATH")
			}
			if cases == "" {
				return usagef("--cases is required")
			}
			report, err := rulestest.RunFile(ruleOptions(), fs.Args(), cases)
			if err != nil {
				return err
			}
			fmt.Fprint(stdio.Out, report.String())
			if n := report.Failed(); n > 0 {
				return fmt.Errorf("%d of %d cases failed", n, report.Total())
			}
			return nil
		},
	}
}
