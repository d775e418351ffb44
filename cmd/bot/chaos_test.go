package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// chaosReport is the part of `bot chaos --json` the test reads.
type chaosReport struct {
	Seed    uint64 `json:"seed"`
	Checked struct {
		Conversations int `json:"conversations"`
		Delivered     int `json:"delivered"`
		Replies       int `json:"replies"`
		Lost          int `json:"lost"`
		Duplicated    int `json:"duplicated"`
		Wrong         int `json:"wrong"`
		Findings      []struct {
			Conversation, What string
		} `json:"findings"`
	} `json:"checked"`
	Crashes []string       `json:"crashes"`
	Panics  []string       `json:"panics"`
	Faults  map[string]int `json:"faults"`
	Failed  []string       `json:"failed"`
}

// TestChaos_short_run_loses_nothing runs the short form of `bot chaos`:
// the simulator, two `bot run` instances on a private redis-server, six
// people writing in six conversations, a low rate of faults, and checks
// the invariants the command reports.
func TestChaos_short_run_loses_nothing(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("bot chaos starts its own redis-server: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, botBin, "chaos", "--duration", "30s", "--instances", "2",
		"--conversations", "6", "--fault-rate", "0.1", "--seed", "3", "--json")
	var env []string
	for _, kv := range cleanEnv() {
		if !strings.HasPrefix(kv, "REDIS_URL=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	var rep chaosReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("bot chaos --json (%v): %v\nstdout:\n%s\nstderr:\n%s", runErr, err, out.String(), errb.String())
	}
	c := rep.Checked
	t.Logf("seed %d: %d conversations, %d delivered, %d replies, faults %v", rep.Seed, c.Conversations, c.Delivered, c.Replies, rep.Faults)
	if c.Delivered < 50 || c.Conversations < 6 {
		t.Errorf("too little traffic: %d messages in %d conversations", c.Delivered, c.Conversations)
	}
	if c.Lost != 0 || c.Duplicated != 0 || c.Wrong != 0 {
		t.Errorf("lost %d, duplicated %d, wrong %d; findings %+v", c.Lost, c.Duplicated, c.Wrong, c.Findings)
	}
	if len(rep.Crashes)+len(rep.Panics) != 0 {
		t.Errorf("crashes %v, panics %v", rep.Crashes, rep.Panics)
	}
	if len(rep.Faults) == 0 {
		t.Errorf("no fault injected")
	}
	if (runErr == nil) != (len(rep.Failed) == 0) {
		t.Errorf("exit %v but failed invariants %v", runErr, rep.Failed)
	}
	if runErr != nil {
		t.Logf("stderr:\n%s", errb.String())
	}
}
