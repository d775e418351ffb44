package botcli

import (
	"context"
	"flag"
	"fmt"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/config"
	"github.com/ucwabot/ucwabot/rules"
)

// loadConfig reads the configuration at path with the process's
// environment, as bot run and bot config check do.
func loadConfig(path string) (*config.Config, error) {
	return config.LoadEnviron(path, environ())
}

func configCheckCommand() *command {
	var path string
	return &command{
		name: "config check",
		summary: `Check a configuration file as bot run reads it, with the UCWABOT_* environment
variables applied, and load its rule files, without signing in, opening the
store or serving anything. Prints every error with its file:line:column and
key; exit 1 on any error. Secrets (password_env, password_file, admin token)
are not read.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&path, "config", "bot.yaml", "the `FILE` to check")
		},
		run: func(_ context.Context, stdio Stdio, fs *flag.FlagSet) error {
			if fs.NArg() > 0 {
				return usagef("takes no arguments (the file is --config FILE)")
			}
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			set, err := rules.Load(ruleOptions(), cfg.Rules...)
			if err != nil {
				return err
			}
			defer set.Close()
			store := "embedded store " + cfg.Store.Path
			if cfg.Store.URL != "" {
				store = "Redis store"
			}
			fmt.Fprintf(stdio.Out, "ok: %s: %d accounts, %d rules (version %s), %s\n",
				path, len(cfg.Accounts), len(set.Rules()), set.Version(), store)
			return nil
		},
	}
}
