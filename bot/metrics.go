package bot

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus collectors. Without a registerer
// they are still updated, just not exported.
type metrics struct {
	events             *prometheus.CounterVec
	ruleMatches        *prometheus.CounterVec
	ruleErrors         *prometheus.CounterVec
	handlerLatency     *prometheus.HistogramVec
	pollLatency        *prometheus.HistogramVec
	lastPoll           *prometheus.GaugeVec
	reconnects         *prometheus.CounterVec
	alarms             *prometheus.CounterVec
	lastActivity       *prometheus.GaugeVec
	presence           *prometheus.GaugeVec
	subscriptionExpiry *prometheus.GaugeVec
	queueDepth         *prometheus.GaugeVec
	leaseHolder        *prometheus.GaugeVec
	storeLatency       *prometheus.HistogramVec
	storeErrors        *prometheus.CounterVec
	handlersAbandoned  *prometheus.CounterVec
	state              *prometheus.GaugeVec

	initOnce sync.Map // account → struct{}: its alert series exist
}

// alarmNames and storeOps are the label values of the series alerts are
// written on; they exist at 0 from the start, so that increase(...) sees
// the first increment.
var (
	alarmNames = []string{"pget_replaced", "credentials", "too_many_applications", "user_agent_not_allowed", "refused", "poison_batch"}
	storeOps   = []string{"batch", "done", "load state", "complete"}
)

// initAccount creates account's alert series at 0, once.
func (m *metrics) initAccount(account string) {
	if _, done := m.initOnce.LoadOrStore(account, struct{}{}); done {
		return
	}
	for _, a := range alarmNames {
		m.alarms.WithLabelValues(account, a)
	}
	m.ruleErrors.WithLabelValues(account, "")
	m.handlersAbandoned.WithLabelValues(account, "")
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns = "ucwabot"
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_total",
			Help: "Domain events read from the event channel, by kind."}, []string{"account", "kind"}),
		ruleMatches: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rule_matches_total",
			Help: "Rules that matched an event."}, []string{"account", "rule"}),
		ruleErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rule_errors_total",
			Help: "Rule evaluation and handler errors (rule \"\" for evaluation)."}, []string{"account", "rule"}),
		handlerLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "handler_duration_seconds",
			Help: "Handler call duration.", Buckets: prometheus.DefBuckets}, []string{"handler"}),
		pollLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "poll_duration_seconds",
			Help: "Event channel P-GET duration.", Buckets: []float64{.01, .1, 1, 10, 60, 180, 600, 1800}}, []string{"account"}),
		lastPoll: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "last_poll_timestamp_seconds",
			Help: "When the event channel last answered."}, []string{"account"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "recoveries_total",
			Help: "Recoveries from protocol faults, by cause."}, []string{"account", "cause"}),
		alarms: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "alarms_total",
			Help: "Conditions that need an operator (e.g. pget_replaced)."}, []string{"account", "alarm"}),
		lastActivity: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "last_activity_timestamp_seconds",
			Help: "When reportMyActivity (or makeMeAvailable) last succeeded."}, []string{"account"}),
		presence: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "presence",
			Help: "The bot's own availability as last read (1 for the current value)."}, []string{"account", "availability"}),
		subscriptionExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "subscription_expiry_timestamp_seconds",
			Help: "When the presence subscription expires unless extended."}, []string{"account"}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "queue_depth",
			Help: "Events read from the inbox and not yet handled."}, []string{"account"}),
		leaseHolder: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "lease_holder",
			Help: "1 when this instance holds the account's lease."}, []string{"account"}),
		storeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "store_duration_seconds",
			Help: "Store operation duration.", Buckets: prometheus.DefBuckets}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "store_errors_total",
			Help: "Store operations that failed and were retried."}, []string{"op"}),
		handlersAbandoned: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "handlers_abandoned_total",
			Help: "Handler calls given up on: they did not return when their context was done (handler \"\" exists at 0)."}, []string{"account", "handler"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "account_state",
			Help: "The account supervisor's state (1 for the current value)."}, []string{"account", "state"}),
	}
	for _, op := range storeOps {
		m.storeErrors.WithLabelValues(op)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.events, m.ruleMatches, m.ruleErrors, m.handlerLatency, m.pollLatency,
		m.lastPoll, m.reconnects, m.alarms, m.lastActivity, m.presence, m.subscriptionExpiry, m.queueDepth,
		m.leaseHolder, m.storeLatency, m.storeErrors, m.handlersAbandoned, m.state} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

var accountStates = []string{stateIdle, stateStandby, stateConnect, stateRunning, stateRecover, stateReplaced, stateDraining, stateStopped, stateLeaseLost}

func (m *metrics) setState(account, s string) {
	m.initAccount(account)
	for _, x := range accountStates {
		v := 0.0
		if x == s {
			v = 1
		}
		m.state.WithLabelValues(account, x).Set(v)
	}
}

var availabilities = []string{"Online", "IdleOnline", "Busy", "IdleBusy", "DoNotDisturb", "BeRightBack", "Away", "Offline"}

func (m *metrics) setPresence(account, avail string) {
	for _, x := range availabilities {
		v := 0.0
		if x == avail {
			v = 1
		}
		m.presence.WithLabelValues(account, x).Set(v)
	}
}
