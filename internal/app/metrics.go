package app

import (
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/rules"
)

// metrics are the agent's own metrics outside the responder's. Those that
// describe the latest evaluation are read from the published Status at
// scrape time, so that a scrape never sees half of one evaluation and half
// of another, and services or sources removed by a reload disappear.
type metrics struct {
	a           *agent
	evaluations prometheus.Counter
	skipped     prometheus.Counter
	duration    prometheus.Histogram
	readErrors  *prometheus.CounterVec
}

var (
	descReloadOK = prometheus.NewDesc("haproxy_agent_config_last_reload_successful",
		"Whether the last load of the rule file succeeded (1) or failed (0).", nil, nil)
	descReloadTime = prometheus.NewDesc("haproxy_agent_config_last_reload_success_timestamp_seconds",
		"When the rule file was last loaded successfully.", nil, nil)
	descHash = prometheus.NewDesc("haproxy_agent_config_hash",
		"The first 6 bytes of the SHA-256 of the serving rule file, as a number.", nil, nil)
	descWeight = prometheus.NewDesc("haproxy_agent_reply_weight_percent",
		"The weight percent the agent applies (the ramp's step while one climbs), per service; sent while acting or restoring.", []string{"service"}, nil)
	descAdminCode = prometheus.NewDesc("haproxy_agent_reply_admin",
		"The administrative word the agent replies with, per service: 0 ready, 1 drain, 2 maint.", []string{"service"}, nil)
	descServerWeight = prometheus.NewDesc("haproxy_agent_server_reply_weight_percent",
		"Fleet mode: the weight percent the agent replies with, per server.", []string{"server"}, nil)
	descServerAdmin = prometheus.NewDesc("haproxy_agent_server_reply_admin",
		"Fleet mode: the administrative word the agent replies with, per server: 0 ready, 1 drain, 2 maint.", []string{"server"}, nil)
	descServerUp = prometheus.NewDesc("haproxy_agent_server_reply_up",
		"Fleet mode: 1 when the agent replies up, 0 when down, fail or stopped, per server.", []string{"server"}, nil)
	descHeld = prometheus.NewDesc("haproxy_agent_guardrail_held",
		"Fleet servers the rules would take out of rotation but the guardrail (max_unavailable) holds in.", nil, nil)
	descGuardOut = prometheus.NewDesc("haproxy_agent_guardrail_out",
		"Fleet servers out of rotation (down, drain, maint or a 0% weight) after the guardrail.", nil, nil)
	descGuardAllowed = prometheus.NewDesc("haproxy_agent_guardrail_allowed",
		"Fleet servers max_unavailable lets out of rotation at once.", nil, nil)
	descServers = prometheus.NewDesc("haproxy_agent_fleet_servers",
		"Fleet servers known: discovered or static, plus those gone for less than stale_after.", nil, nil)
	descMaxconn = prometheus.NewDesc("haproxy_agent_reply_maxconn",
		"The maxconn the agent replies with, per service (absent when the reply carries none; 0 is unlimited).", []string{"service"}, nil)
	descOp = prometheus.NewDesc("haproxy_agent_reply_operational_state",
		"1 for the operational word the agent replies with, per service.", []string{"service", "state"}, nil)
	descAdmin = prometheus.NewDesc("haproxy_agent_reply_admin_state",
		"1 for the administrative word the agent wants, per service; sent while acting or restoring.", []string{"service", "state"}, nil)
	descPhase = prometheus.NewDesc("haproxy_agent_reply_phase",
		"1 for the reply's phase, per service: acting (full state every poll), restoring (undoing the agent's own action), quiet (the operational word alone).", []string{"service", "phase"}, nil)
	descFiring = prometheus.NewDesc("haproxy_agent_rules_firing",
		"Rules firing in the last evaluation, per service.", []string{"service"}, nil)
	descRules = prometheus.NewDesc("haproxy_agent_rules",
		"Rules loaded, per service.", []string{"service"}, nil)
	descOverrides = prometheus.NewDesc("haproxy_agent_overrides_active",
		"Operator overrides in force, per service.", []string{"service"}, nil)
	descSourceUp = prometheus.NewDesc("haproxy_agent_source_up",
		"Whether the last read of the source succeeded.", []string{"source", "kind"}, nil)
	descSourceDuration = prometheus.NewDesc("haproxy_agent_source_read_duration_seconds",
		"How long the last read of the source took.", []string{"source"}, nil)
	descMetricMissing = prometheus.NewDesc("haproxy_agent_metrics_missing",
		"Metrics missing in the last evaluation.", nil, nil)

	phases = []evaluator.Phase{evaluator.Acting, evaluator.Restoring, evaluator.Quiet}
)

func newMetrics(a *agent, reg prometheus.Registerer) *metrics {
	m := &metrics{
		a: a,
		evaluations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "haproxy_agent_evaluations_total",
			Help: "Evaluation cycles run.",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "haproxy_agent_evaluations_skipped_total",
			Help: "Evaluation cycles skipped because the previous one overran the interval.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "haproxy_agent_evaluation_duration_seconds",
			Help:    "Time to read the sources and evaluate the rules, per cycle.",
			Buckets: []float64{.0005, .001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}
	m.readErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "haproxy_agent_source_read_errors_total",
		Help: "Failed reads of a source.",
	}, []string{"source"})
	reg.MustRegister(m.evaluations, m.skipped, m.duration, m.readErrors, m)
	return m
}

func (m *metrics) evaluated(took time.Duration) {
	m.evaluations.Inc()
	m.duration.Observe(took.Seconds())
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReloadOK, descReloadTime, descHash, descWeight, descMaxconn,
		descOp, descAdmin, descPhase, descFiring, descRules, descOverrides, descSourceUp, descSourceDuration,
		descMetricMissing, descAdminCode, descServerWeight, descServerAdmin, descServerUp, descHeld, descGuardOut, descGuardAllowed, descServers} {
		ch <- d
	}
}

// Collect implements prometheus.Collector from the published state.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if rs := m.a.reloadState.Load(); rs != nil {
		gauge(descReloadOK, b2f(rs.Success))
		if !rs.SuccessTime.IsZero() {
			gauge(descReloadTime, float64(rs.SuccessTime.UnixNano())/1e9)
		}
		if h, err := hex.DecodeString(rs.Hash); err == nil && len(h) >= 8 {
			gauge(descHash, float64(binary.BigEndian.Uint64(h[:8])>>16))
		}
	}
	st := m.a.status.Load()
	if st == nil {
		return
	}
	for i, d := range st.Services {
		gauge(descWeight, float64(d.Weight), d.Service)
		gauge(descAdminCode, adminCode(d.Admin), d.Service)
		if d.Maxconn >= 0 {
			gauge(descMaxconn, float64(d.Maxconn), d.Service)
		}
		for _, w := range rules.OpWords {
			gauge(descOp, b2f(d.Op.String() == w), d.Service, w)
		}
		for _, w := range rules.AdminWords {
			gauge(descAdmin, b2f(d.Admin.String() == w), d.Service, w)
		}
		for _, p := range phases {
			gauge(descPhase, b2f(d.Phase == p), d.Service, string(p))
		}
		gauge(descFiring, float64(len(d.Firing)), d.Service)
		gauge(descRules, float64(len(st.file.Services[i].Rules)), d.Service)
		gauge(descOverrides, float64(len(d.Overrides)), d.Service)
	}
	if g := st.Guardrail; g != nil {
		firing := 0
		for _, d := range st.Servers {
			gauge(descServerWeight, float64(d.Weight), d.Server)
			gauge(descServerAdmin, adminCode(d.Admin), d.Server)
			gauge(descServerUp, b2f(d.Op == rules.Up), d.Server)
			firing += len(d.Firing)
		}
		def := st.file.Services[0]
		gauge(descRules, float64(len(def.Rules)), def.Name)
		gauge(descFiring, float64(firing), def.Name)
		gauge(descHeld, float64(len(g.Held)))
		gauge(descGuardOut, float64(g.Out))
		gauge(descGuardAllowed, float64(g.Allowed))
		gauge(descServers, float64(g.Servers))
	}
	for _, s := range st.Sources {
		gauge(descSourceUp, b2f(s.Up), s.Name, s.Kind)
		gauge(descSourceDuration, s.DurationSeconds, s.Name)
	}
	missing := 0
	for _, ms := range st.Metrics {
		if ms.Missing != "" {
			missing++
		}
	}
	gauge(descMetricMissing, float64(missing))
}

// adminCode numbers the administrative words as haproxy_agent_reply_admin
// and haproxy_agent_server_reply_admin do: 0 ready, 1 drain, 2 maint.
func adminCode(w rules.Admin) float64 {
	switch w {
	case rules.Drain:
		return 1
	case rules.Maint:
		return 2
	}
	return 0
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
