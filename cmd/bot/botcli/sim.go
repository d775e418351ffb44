package botcli

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/simctl"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// userList is a repeatable, comma-separated --users flag of URI[=PASSWORD].
type userList []simUser

type simUser struct{ uri, password string }

func (u *userList) String() string {
	var parts []string
	for _, x := range *u {
		parts = append(parts, x.uri)
	}
	return strings.Join(parts, ",")
}

func (u *userList) Set(s string) error {
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		uri, pw, _ := strings.Cut(item, "=")
		if !strings.HasPrefix(uri, "sip:") {
			uri = "sip:" + uri
		}
		if !strings.Contains(uri, "@") {
			return fmt.Errorf("%q is not a SIP URI such as sip:alice@example.com", uri)
		}
		*u = append(*u, simUser{uri: uri, password: pw})
	}
	return nil
}

func simCommand() *command {
	var (
		listen    string
		users     userList
		timeScale float64
		domain    string
		seed      uint64
	)
	return &command{
		name: "sim",
		summary: `Run the built-in UCWA simulator as its own process, to try the bot against it.
Users are given as URI[=PASSWORD]; bots sign in with their password, people
are scripted, and faults injected, through the loopback-only control routes
under /_sim/ (see docs/operations.md).`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&listen, "listen", "127.0.0.1:8443", "loopback `host:port` to serve on")
			fs.Var(&users, "users", "comma-separated `URI[=PASSWORD]` users to create (repeatable)")
			fs.Float64Var(&timeScale, "time-scale", 1, "simulated seconds per real second")
			fs.StringVar(&domain, "domain", "example.com", "SIP `domain` of the users")
			fs.Uint64Var(&seed, "seed", 0, "`seed` of the draws of faults injected with a rate (0: random)")
		},
		run: func(ctx context.Context, io Stdio, fs *flag.FlagSet) error {
			if fs.NArg() > 0 {
				return usagef("takes no arguments")
			}
			host, _, err := net.SplitHostPort(listen)
			if err != nil {
				return usagef("--listen %q: %v", listen, err)
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return usagef("--listen %q: the simulator serves loopback addresses only", listen)
			}
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			// The simulator answers on an internal loopback port too; its
			// routes are served here beside the control routes. It builds
			// absolute URLs from the request's Host, so both work.
			sim, err := ucwasim.New(ucwasim.Options{TimeScale: timeScale, Domain: domain, Seed: seed})
			if err != nil {
				return err
			}
			defer sim.Close()
			for _, u := range users {
				name := strings.TrimPrefix(strings.Split(u.uri, "@")[0], "sip:")
				if err := sim.AddUser(u.uri, u.password, name); err != nil {
					return err
				}
			}
			mux := http.NewServeMux()
			mux.Handle(simctl.Prefix, simctl.Handler(sim))
			mux.Handle("/", sim.Handler())
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(l) }()

			base := "http://" + l.Addr().String()
			fmt.Fprintf(io.Out, "simulator listening on %s\n", base)
			fmt.Fprintf(io.Out, "discovery URL: %s\n", base+strings.TrimPrefix(sim.DiscoveryURL(), sim.URL()))
			for _, u := range users {
				kind := "person"
				if u.password != "" {
					kind = "bot (password grant)"
				}
				fmt.Fprintf(io.Out, "user %s: %s\n", u.uri, kind)
			}
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
			<-errc
			return nil
		},
	}
}
