// Package console is the web console of the ops HTTP server, under
// /console/: a live view of the accounts, the open conversations and the
// trace of every event (the rules evaluated and matched, the handlers run
// with their latency and error, the state before and after, the replies),
// streamed as Server-Sent Events; the rules with their counters and an
// editor that checks a file with the service's own loader as it is typed;
// and, against the simulator, a playground in which one acts as the
// simulated people. The pages are plain HTML, CSS and JavaScript embedded
// in the binary.
//
// The package serves the pages and the JSON calls under /console/api/;
// the ops server in front of it applies the admin API's checks (package
// ops). Nothing is stored: the traces live in a bounded ring in memory.
package console

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot"
)

//go:embed static
var static embed.FS

// Options are what the console shows and drives. Nil parts are left out
// of the pages.
type Options struct {
	// Hub is the engine's tracer (required).
	Hub *Hub
	// Accounts returns the engine's accounts (bot.Engine.Status).
	Accounts func() []bot.AccountStatus
	// Gatherer gives the engine's metrics: recoveries and subscription
	// expiry per account.
	Gatherer prometheus.Gatherer
	// Rules is the rule set in force, the editor's loader and, when the
	// bot runs against the simulator or in shadow mode, how an edited
	// file is applied.
	Rules Rules
	// Playground scripts the simulated people; nil when the bot does not
	// run against the simulator.
	Playground Playground
	// Logger receives one line per change made from the console.
	Logger logrus.FieldLogger
}

// Handler is the console's routes, under /console/.
func Handler(o Options) http.Handler {
	if o.Logger == nil {
		l := logrus.New()
		l.SetOutput(discard{})
		o.Logger = l
	}
	c := &server{o: o}
	mux := http.NewServeMux()
	sub, _ := fs.Sub(static, "static")
	files := http.StripPrefix("/console/", http.FileServer(http.FS(sub)))
	mux.Handle("GET /console/", noCache(files))
	mux.HandleFunc("GET /console/api/overview", c.overview)
	mux.HandleFunc("GET /console/api/accounts", c.accounts)
	mux.HandleFunc("GET /console/api/conversations", c.conversations)
	mux.HandleFunc("GET /console/api/traces", c.traces)
	mux.HandleFunc("GET /console/api/stream", c.stream)
	c.ruleRoutes(mux)
	c.playgroundRoutes(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.Hub.touch()
		mux.ServeHTTP(w, r)
	})
}

type server struct{ o Options }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func noCache(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:")
		next.ServeHTTP(w, r)
	})
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readJSON decodes a request body of at most 1 MiB into v, strictly.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{"request body: " + err.Error()})
		return false
	}
	return true
}

// Overview is what the page needs to lay itself out.
type Overview struct {
	Playground bool   `json:"playground"`
	Apply      bool   `json:"apply"`
	ApplyWhy   string `json:"apply_why,omitempty"`
	Ring       int    `json:"ring"`
}

func (c *server) overview(w http.ResponseWriter, _ *http.Request) {
	ov := Overview{Playground: c.o.Playground != nil, Ring: len(c.o.Hub.ring)}
	if c.o.Rules != nil {
		ov.ApplyWhy = c.o.Rules.CanApply()
		ov.Apply = ov.ApplyWhy == ""
	}
	writeJSON(w, http.StatusOK, ov)
}

// AccountView is one account as the console shows it.
type AccountView struct {
	Address       string    `json:"address"`
	State         string    `json:"state"`
	LeaseHolder   bool      `json:"lease_holder"`
	Presence      string    `json:"presence"`
	LastPoll      time.Time `json:"last_poll"`
	PollAgeS      float64   `json:"poll_age_s"`
	LastActivity  time.Time `json:"last_activity"`
	Subscriptions int       `json:"subscriptions"`
	SubExpiry     time.Time `json:"subscription_expiry,omitzero"`
	Recoveries    float64   `json:"recoveries"`
	QueueDepth    int       `json:"queue_depth"`
	Conversations int       `json:"conversations"`
}

func (c *server) accounts(w http.ResponseWriter, _ *http.Request) {
	if c.o.Accounts == nil {
		writeJSON(w, http.StatusOK, []AccountView{})
		return
	}
	rec, exp := c.metricsByAccount()
	out := []AccountView{}
	now := time.Now()
	for _, a := range c.o.Accounts() {
		v := AccountView{Address: a.Address, State: a.State, LeaseHolder: a.Owner, Presence: a.Presence,
			LastPoll: a.LastPoll, LastActivity: a.LastActivity, Subscriptions: a.Subscriptions,
			QueueDepth: a.QueueDepth, Conversations: a.Conversations, Recoveries: rec[a.Address]}
		if !a.LastPoll.IsZero() {
			v.PollAgeS = now.Sub(a.LastPoll).Seconds()
		}
		if s := exp[a.Address]; s > 0 {
			v.SubExpiry = time.Unix(int64(s), 0)
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
}

// metricsByAccount reads the recoveries and subscription expiry of each
// account from the engine's metrics.
func (c *server) metricsByAccount() (recoveries, expiry map[string]float64) {
	recoveries, expiry = map[string]float64{}, map[string]float64{}
	if c.o.Gatherer == nil {
		return
	}
	mfs, err := c.o.Gatherer.Gather()
	if err != nil {
		return
	}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "ucwabot_recoveries_total", "ucwabot_subscription_expiry_timestamp_seconds":
		default:
			continue
		}
		for _, m := range mf.GetMetric() {
			acct := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "account" {
					acct = l.GetValue()
				}
			}
			if mf.GetName() == "ucwabot_recoveries_total" {
				recoveries[acct] += m.GetCounter().GetValue()
			} else {
				expiry[acct] = m.GetGauge().GetValue()
			}
		}
	}
	return
}

func (c *server) conversations(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, c.o.Hub.Conversations())
}

func (c *server) traces(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 200
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > DefaultRing {
			writeJSON(w, http.StatusBadRequest, errorBody{fmt.Sprintf("limit must be a whole number from 1 to %d", DefaultRing)})
			return
		}
		limit = n
	}
	var after uint64
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{"after must be a trace seq"})
			return
		}
		after = n
	}
	writeJSON(w, http.StatusOK, c.o.Hub.Traces(q.Get("conversation"), after, limit))
}

// stream sends every new trace as an SSE "trace" event, a "lagged" event
// when the client fell behind and missed some, and a comment every 15 s so
// that proxies keep the connection.
func (c *server) stream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeJSON(w, http.StatusInternalServerError, errorBody{"streaming unsupported"})
		return
	}
	ch, lagged, cancel := c.o.Hub.subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n: connected\n\n")
	fl.Flush()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.o.Hub.done:
			return
		case <-keep.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case v := <-ch:
			if lagged() {
				fmt.Fprint(w, "event: lagged\ndata: {}\n\n")
			}
			b, _ := json.Marshal(v)
			fmt.Fprintf(w, "id: %d\nevent: trace\ndata: %s\n\n", v.Seq, b)
			// Send what else is queued before flushing.
			for more := true; more; {
				select {
				case v := <-ch:
					b, _ := json.Marshal(v)
					fmt.Fprintf(w, "id: %d\nevent: trace\ndata: %s\n\n", v.Seq, b)
				default:
					more = false
				}
			}
		}
		fl.Flush()
	}
}

var errNoPlayground = errors.New("no simulator: the playground needs `bot demo --web` or `bot run --playground URL` against `bot sim`")
