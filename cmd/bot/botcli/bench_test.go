package botcli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ucwabot/ucwabot/bench"
)

func TestBench_tiny_workload_prints_a_verified_report(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	var out, errb bytes.Buffer
	code := Main(ctx, []string{"bench", "--store", "bolt", "--conversations", "20", "--messages", "400",
		"--rules", "5", "--inflight", "40", "--runs", "1", "--unloaded", "5", "--json-file", jsonPath},
		Stdio{Out: &out, Err: &errb})
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errb.String())
	}
	for _, want := range []string{"GOMAXPROCS=", "the bot (msgs/s)", "ratio to the 1-round-trip ceiling", "latency unloaded p99"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	var rep bench.Report
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("--json-file: %v\n%s", err, b)
	}
	if len(rep.Points) != 1 || rep.Points[0].Conversations != 20 || rep.Points[0].Runs[0].Messages != 400 || rep.Options.Store != "bolt" {
		t.Errorf("report = %+v", rep)
	}
}

func TestBench_bad_knob_is_a_usage_error(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"bench", "--store", "etcd"}, Stdio{Out: &out, Err: &errb})
	if code != exitUsage || !strings.Contains(errb.String(), `--store: "etcd", want redis or bolt`) {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}
