package ops

import (
	"github.com/prometheus/client_golang/prometheus"
)

// RuleCollector exports the rules' handler run time to Prometheus each time
// it is scraped, per rule, the loaded rule set's version as the label of
// an info gauge, and the counts of rule reloads that succeeded
// (ucwabot_rules_reloads_total) and failed
// (ucwabot_rules_reload_failures_total). The engine itself exports ucwabot_rule_matches_total and
// ucwabot_rule_errors_total (labels account and rule).
type RuleCollector struct {
	rules    func() RuleSet
	runs     *prometheus.Desc
	info     *prometheus.Desc
	reloads  *prometheus.Desc
	failures *prometheus.Desc
}

var _ prometheus.Collector = (*RuleCollector)(nil)

// NewRuleCollector returns a collector reading the counters from rules.
func NewRuleCollector(rules func() RuleSet) *RuleCollector {
	return &RuleCollector{
		rules: rules,
		runs:  prometheus.NewDesc("ucwabot_rule_handler_seconds", "Time spent in the rule's handlers.", []string{"rule"}, nil),
		info:  prometheus.NewDesc("ucwabot_rules_info", "The loaded rule set; its version is a label.", []string{"version"}, nil),
		reloads: prometheus.NewDesc("ucwabot_rules_reloads_total",
			"Rule reloads that replaced the running rules.", nil, nil),
		failures: prometheus.NewDesc("ucwabot_rules_reload_failures_total",
			"Rule reloads that failed; the running rules stayed.", nil, nil),
	}
}

// Describe sends the collector's descriptions.
func (c *RuleCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.runs
	ch <- c.info
	ch <- c.reloads
	ch <- c.failures
}

// Collect reads the counters and sends one summary per rule.
func (c *RuleCollector) Collect(ch chan<- prometheus.Metric) {
	set := c.rules()
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, set.Version)
	ch <- prometheus.MustNewConstMetric(c.reloads, prometheus.CounterValue, float64(set.Reloads))
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(set.ReloadFailures))
	for _, r := range set.Rules {
		ch <- prometheus.MustNewConstSummary(c.runs, r.Runs, r.RunSeconds, nil, r.Name)
	}
}
