package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucwabot/ucwabot/bot"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/console"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/ops"
	"github.com/ucwabot/ucwabot/cmd/bot/internal/simctl"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// serveWeb serves the web console over the running demo until ctx ends:
// the ops server with a fresh admin token (in the printed URL's fragment,
// which the browser keeps to itself), and the simulator's control API on
// another loopback port for the playground.
func serveWeb(ctx context.Context, o Options, sim *ucwasim.Server, eng *bot.Engine, reg *prometheus.Registry, hub *console.Hub, src *console.MemoryRules) error {
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctlMux := http.NewServeMux()
	ctlMux.Handle(simctl.Prefix, simctl.Handler(sim))
	ctl := &http.Server{Handler: ctlMux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = ctl.Serve(cl) }()
	defer ctl.Close()

	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	token := hex.EncodeToString(b)
	listen := o.WebListen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	l, err := ops.Listen(listen, token)
	if err != nil {
		return err
	}
	pg := &console.SimPlayground{
		Client:  &simctl.Client{Base: "http://" + cl.Addr().String()},
		BotURI:  botURI,
		Persons: console.DefaultPeople("contoso.com"),
	}
	h := ops.Handler(ops.Options{
		Ready:    eng.Ready,
		Gatherer: reg,
		Rules:    memRuleAdmin{src},
		Token:    token,
		Listen:   l.Addr().String(),
		Console: console.Handler(console.Options{
			Hub: hub, Accounts: eng.Status, Gatherer: reg, Rules: src, Playground: pg,
		}),
	})
	url := fmt.Sprintf("http://%s/console/#token=%s", l.Addr().String(), token)
	fmt.Fprintf(o.Out, "The web console serves at\n\n  %s\n\nOpen it in a browser to act as Alice, Bob or Carol and watch the bot think; Ctrl-C ends the demo.\n", url)
	if o.WebReady != nil {
		o.WebReady(url)
	}
	go func() {
		<-ctx.Done()
		hub.Close()
	}()
	err = ops.Serve(ctx, l, h)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// memRuleAdmin shows the demo's rules to the admin API.
type memRuleAdmin struct{ m *console.MemoryRules }

func (a memRuleAdmin) Rules() ops.RuleSet { return a.m.Info() }

func (a memRuleAdmin) Reload(context.Context) (ops.RuleSet, error) { return a.m.Info(), nil }
