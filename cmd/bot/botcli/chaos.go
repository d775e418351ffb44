package botcli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/chaos"
)

func chaosCommand() *command {
	var (
		o      chaos.Options
		asJSON bool
	)
	return &command{
		name: "chaos",
		summary: `Run the simulator and several bot run instances of this binary on one Redis,
drive traffic from scripted people, inject random faults (UCWA errors, delays,
dropped connections, resync, token revocation, killed applications, SIGKILL
and SIGSTOP of the lease holder, Redis paused and restarted), then check that
nothing was lost, answered twice or applied out of order. Exit status 1 when
an invariant fails (docs/operations.md).`,
		flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&o.Duration, "duration", time.Minute, "how long traffic and faults last (quiescence comes on top)")
			fs.IntVar(&o.Conversations, "conversations", 20, "conversations open at once")
			fs.IntVar(&o.Instances, "instances", 3, "bot run instances")
			fs.Float64Var(&o.FaultRate, "fault-rate", 0.3, "chance per second of a fault through the simulator (0: no faults at all)")
			fs.Uint64Var(&o.Seed, "seed", 0, "`seed` of every random choice (0: random, printed)")
			fs.StringVar(&o.RedisURL, "redis-url", "", "a Redis `URL` to use with a unique key prefix (default: REDIS_URL, else a private redis-server)")
			fs.BoolVar(&o.AppendOnly, "appendonly", false, "run the private redis-server with appendonly yes")
			fs.StringVar(&o.LogDir, "logs", "", "keep the children's logs in `DIR` (default: removed with the temp dir)")
			fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
		},
		run: func(ctx context.Context, io Stdio, fs *flag.FlagSet) error {
			if fs.NArg() > 0 {
				return usagef("takes no arguments")
			}
			if o.Duration <= 0 {
				return usagef("--duration %s: want a positive duration", o.Duration)
			}
			if o.FaultRate < 0 || o.FaultRate > 1 {
				return usagef("--fault-rate %v: want 0..1", o.FaultRate)
			}
			o.Progress = io.Err
			rep, err := chaos.Run(ctx, o)
			if rep != nil {
				if asJSON {
					enc := json.NewEncoder(io.Out)
					enc.SetIndent("", "  ")
					_ = enc.Encode(rep)
				} else {
					rep.Print(io.Out)
				}
			}
			if err != nil {
				return err
			}
			if len(rep.Failed) > 0 {
				return errors.New(fmt.Sprintf("chaos (seed %d): %s", rep.Seed, strings.Join(rep.Failed, "; ")))
			}
			return nil
		},
	}
}
