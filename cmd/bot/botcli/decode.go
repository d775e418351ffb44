package botcli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ucwabot/ucwabot/bot"
)

func decodeCommand() *command {
	return &command{
		name: "decode",
		args: "[FILE]",
		summary: `Read one UCWA event-channel response body from FILE (or standard input, or
"-") and print one JSON object per event it holds, with the keys sender, rel,
type, href, in and event (the domain event kind the engine makes of it).`,
		run: func(_ context.Context, stdio Stdio, fs *flag.FlagSet) error {
			if fs.NArg() > 1 {
				return usagef("takes at most one FILE")
			}
			name, in := "<stdin>", stdio.In
			if fs.NArg() == 1 && fs.Arg(0) != "-" {
				f, err := os.Open(fs.Arg(0))
				if err != nil {
					return err
				}
				defer f.Close()
				name, in = fs.Arg(0), f
			}
			body, err := io.ReadAll(io.LimitReader(in, 64<<20))
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			evs, err := bot.Decode(body)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			enc := json.NewEncoder(stdio.Out)
			enc.SetEscapeHTML(false)
			for _, ev := range evs {
				if err := enc.Encode(ev); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
