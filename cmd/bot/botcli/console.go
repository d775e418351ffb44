package botcli

import (
	"context"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/config"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/console"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/logging"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/simctl"
	"github.com/ucwabot/ucwabot/rules"
)

// consoleHandler is the web console of `bot run`. Edited rules are
// applied (written to their file and reloaded) only in shadow mode or
// against a simulator given by --playground.
func consoleHandler(ctx context.Context, cfg *config.Config, bcfg bot.Config, playground string, hub *console.Hub,
	eng *bot.Engine, reg prometheus.Gatherer, reloader *rules.Reloader, redactor *logging.Redactor, log logrus.FieldLogger) http.Handler {
	fr := &console.FileRules{Opts: serviceRuleOptions(cfg.Webhooks.AllowedHosts, redactor), Reloader: reloader,
		NoApply: "the bot runs neither in shadow mode (engine.shadow) nor against a simulator (bot run --playground)"}
	if cfg.Engine.Shadow || playground != "" {
		fr.NoApply = ""
	}
	o := console.Options{Hub: hub, Accounts: eng.Status, Gatherer: reg, Rules: fr, Logger: log.WithField("component", "console")}
	if playground != "" && len(bcfg.Accounts) > 0 {
		botURI := bcfg.Accounts[0].Address
		if !strings.HasPrefix(botURI, "sip:") {
			botURI = "sip:" + botURI
		}
		domain := botURI[strings.LastIndex(botURI, "@")+1:]
		pg := &console.SimPlayground{Client: &simctl.Client{Base: strings.TrimSuffix(playground, "/")}, BotURI: botURI, Persons: console.DefaultPeople(domain)}
		pg.AddPeople(ctx)
		o.Playground = pg
	}
	return console.Handler(o)
}
