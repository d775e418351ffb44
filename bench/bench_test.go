package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/handlers"
	rulespkg "github.com/ucwabot/ucwabot/rules"
)

// tiny is a workload small enough for every CI run.
func tiny(store string) Options {
	return Options{
		Conversations: 20, Messages: 400, Rules: 7, People: 5, Inflight: 50,
		Store: store, Runs: 1, Unloaded: 10, Stall: 20 * time.Second,
	}
}

func TestRun_tiny_workload_verifies_on_every_store(t *testing.T) {
	for _, c := range []struct{ store, transport string }{
		{StoreBolt, TransportHTTP}, {StoreRedis, TransportHTTP}, {StoreRedis, TransportInProc}, {StoreRedis, TransportDirect}, {StoreBolt, TransportDirect},
	} {
		store := c.store
		t.Run(store+"/"+c.transport, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			o := tiny(store)
			o.Transport = c.transport
			rep, err := Run(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Points) != 1 || len(rep.Points[0].Runs) != 1 {
				t.Fatalf("points = %+v, want one point of one run", rep.Points)
			}
			r := rep.Points[0].Runs[0]
			if r.MsgsPerSec <= 0 || r.CPUPerMsg <= 0 || r.Loaded.N != 400 || r.Unloaded.N != 10 {
				t.Errorf("result = %+v, want a rate, CPU and 400 loaded and 10 unloaded latencies", r)
			}
			if want := map[bool]int{true: 400}[c.transport == TransportDirect]; r.DirectReplies != want {
				t.Errorf("%d replies sent through the direct wire, want %d", r.DirectReplies, want)
			}
			if r.BotCPUPerMsg < 0 || r.SimCPUPerMsg < 0 || (r.BotCPUPerMsg > 0 && math.Abs(r.BotCPUPerMsg+r.SimCPUPerMsg-r.CPUPerMsg) > 1e-6) {
				t.Errorf("CPU split %v + %v, want parts of %v", r.BotCPUPerMsg, r.SimCPUPerMsg, r.CPUPerMsg)
			}
			if r.CeilingOneTrip.MsgsPerSec <= 0 || r.CeilingPipelined.MsgsPerSec <= 0 || r.Ratio <= 0 {
				t.Errorf("ceilings = %+v / %+v, ratio %v: want all measured", r.CeilingOneTrip, r.CeilingPipelined, r.Ratio)
			}
			if store == StoreRedis && (r.RoundTripsPerMsg <= 0 || r.ClientCmdsPerMsg < r.RoundTripsPerMsg || r.ServerCmdsPerMsg <= 0) {
				t.Errorf("redis figures = %+v, want round trips and commands counted", r)
			}
			var table, js bytes.Buffer
			if err := rep.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(table.String(), "the bot (msgs/s)") || !strings.Contains(table.String(), "GOMAXPROCS=") {
				t.Errorf("table:\n%s", table.String())
			}
			if err := rep.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			var back Report
			if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Points[0].Runs[0].Messages != 400 {
				t.Errorf("json does not read back: %v\n%s", err, js.String())
			}
		})
	}
}

// A handler that goes wrong in the real engine is caught: a reply that
// never comes, and a counter stored wrong while the replies look right.
func TestRun_fails_loudly_when_the_bot_goes_wrong(t *testing.T) {
	cases := []struct {
		name    string
		handler func(ctx context.Context, req *handlers.Request) error
		want    string
	}{
		{"a reply missing", func(ctx context.Context, req *handlers.Request) error {
			if strings.HasSuffix(req.Event.Message.Text, " 123") {
				return req.State.Set(countField, 1)
			}
			return count(ctx, req)
		}, "409 of 410 replies"},
		{"a counter stored wrong", func(ctx context.Context, req *handlers.Request) error {
			if err := count(ctx, req); err != nil {
				return err
			}
			if strings.HasSuffix(req.Event.Message.Text, " 123") {
				return req.State.Set(countField, 1000)
			}
			return nil
		}, "stored counter 1014, want 20"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			o := tiny(StoreBolt)
			o.NoCeilings = true
			o.Stall = 3 * time.Second
			o.handler = c.handler
			_, err := Run(ctx, o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Run = %v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	want := map[string][]int{"a": {0, 2, 4}, "b": {1, 3}}
	good := func() map[string]Outcome {
		return map[string]Outcome{
			"a": {Replies: []string{"[0] count=1", "[2] count=2", "[4] count=3"}, Counter: 3},
			"b": {Replies: []string{"[1] count=1", "[3] count=2"}, Counter: 2},
		}
	}
	if err := Verify(want, good()); err != nil {
		t.Fatalf("a correct run: %v", err)
	}
	cases := []struct {
		name   string
		change func(map[string]Outcome)
		want   string
	}{
		{"a missing reply", func(g map[string]Outcome) {
			o := g["a"]
			o.Replies = append([]string{}, o.Replies[0], o.Replies[2])
			g["a"] = o
		}, "conversation a: 2 replies for 3 messages"},
		{"a reply twice", func(g map[string]Outcome) {
			o := g["b"]
			o.Replies = append(o.Replies, "[3] count=3")
			g["b"] = o
		}, "conversation b: 3 replies for 2 messages"},
		{"replies out of order", func(g map[string]Outcome) {
			g["a"] = Outcome{Replies: []string{"[2] count=1", "[0] count=2", "[4] count=3"}, Counter: 3}
		}, `conversation a: reply 1 is "[2] count=1", want "[0] count=1"`},
		{"a count skipped", func(g map[string]Outcome) {
			g["b"] = Outcome{Replies: []string{"[1] count=1", "[3] count=3"}, Counter: 2}
		}, `conversation b: reply 2 is "[3] count=3", want "[3] count=2"`},
		{"a stored counter behind", func(g map[string]Outcome) {
			o := g["a"]
			o.Counter = 2
			g["a"] = o
		}, "conversation a: stored counter 2, want 3"},
		{"no state", func(g map[string]Outcome) {
			o := g["b"]
			o.Counter = -1
			g["b"] = o
		}, "conversation b: stored counter -1, want 2"},
		{"a lost conversation", func(g map[string]Outcome) { delete(g, "b") }, "conversation b: not found"},
		{"a reply that is not the workload's", func(g map[string]Outcome) {
			o := g["a"]
			o.Replies[1] = "hello"
			g["a"] = o
		}, `conversation a: reply 2 "hello" is not`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := good()
			c.change(g)
			err := Verify(want, g)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Verify = %v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestWorkload_every_message_matches_exactly_its_rule(t *testing.T) {
	const rules = 12
	set, err := rulespkg.LoadBytes(rulespkg.Options{Build: registry(nil).Build}, "bench-rules.yaml", rulesYAML(rules))
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	for id := 0; id < 3*rules; id++ {
		text := messageText(id, id%rules, rules)
		ev := &event.Event{Kind: event.MessageReceived, Message: event.Message{Text: text}}
		ms, err := set.Eval(context.Background(), &rulespkg.Input{Event: ev}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 1 || ms[0].Rule.Name != "cmd"+strconv.Itoa(id%rules) {
			var names []string
			for _, m := range ms {
				names = append(names, m.Rule.Name)
			}
			t.Errorf("%q matches %v, want [cmd%d]", text, names, id%rules)
		}
	}
	if got := messageText(rules, 0, rules); got != "CMD0 12" {
		t.Errorf("second round of rules = %q, want upper case", got)
	}
}

func TestParseReply(t *testing.T) {
	id, n, err := parseReply(replyText("42", 7))
	if err != nil || id != 42 || n != 7 {
		t.Errorf("parseReply(replyText(42, 7)) = %d, %d, %v", id, n, err)
	}
	for _, bad := range []string{"", "[x] count=1", "[1] count=", "[1]count=1", "cmd1 4"} {
		if _, _, err := parseReply(bad); err == nil {
			t.Errorf("parseReply(%q) = nil error", bad)
		}
	}
}
