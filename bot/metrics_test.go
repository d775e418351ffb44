package bot

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestEngine_exports_its_metrics(t *testing.T) {
	sim := newSim(t, 1)
	reg := prometheus.NewRegistry()
	obs := newRecorder()
	e, err := New(testConfig(sim), WithStore(tempBolt(t)), WithRules(staticRules{loadRules(t, echoRules)}),
		WithObserver(obs), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	r := &running{e: e, obs: obs}
	r.launch(t)
	conv, err := sim.Invite(aliceURI, botURI, "hi")
	if err != nil {
		t.Fatal(err)
	}
	waitReplies(t, sim, conv.ID(), "echo: hi")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	for _, name := range []string{
		"ucwabot_events_total", "ucwabot_rule_matches_total", "ucwabot_handler_duration_seconds",
		"ucwabot_poll_duration_seconds", "ucwabot_last_activity_timestamp_seconds", "ucwabot_presence",
		"ucwabot_queue_depth", "ucwabot_lease_holder", "ucwabot_store_duration_seconds", "ucwabot_account_state",
	} {
		if !have[name] {
			t.Errorf("metric %s not exported", name)
		}
	}
	if _, err := New(testConfig(sim), WithStore(tempBolt(t)), WithRules(staticRules{loadRules(t, echoRules)}), WithRegisterer(reg)); err == nil {
		t.Error("a second engine on the same registerer registered its metrics twice without an error")
	}
}
