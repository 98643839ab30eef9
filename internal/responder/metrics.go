package responder

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Poll outcomes, the values of haproxy_agent_polls_total's outcome label.
const (
	outcomeOK             = "ok"              // the service's reply was written
	outcomeUnknownService = "unknown_service" // an empty line was written
	outcomeUnknownServer  = "unknown_server"  // fleet mode, no server or an unknown one named: an empty line was written
	outcomeBadRequest     = "bad_request"     // oversize or non-printable line: closed without reply
	outcomeReadError      = "read_error"      // the read failed (reset...): closed without reply
	outcomeWriteError     = "write_error"     // the reply could not be written
	outcomeNotReady       = "not_ready"       // nothing published yet: closed without reply
)

// Reasons of haproxy_agent_poll_connections_rejected_total.
const (
	reasonLimit      = "limit"
	reasonNotAllowed = "not_allowed"
)

// metrics holds the responder's collectors and the children the poll path
// uses, all created ahead so that a poll only increments.
type metrics struct {
	polls    *prometheus.CounterVec
	rejected *prometheus.CounterVec
	open     prometheus.Gauge
	duration prometheus.Histogram

	// Outcomes that name no service nor server: both labels are empty,
	// since an unknown name must not become a label value.
	unknownService prometheus.Counter
	unknownServer  prometheus.Counter
	badRequest     prometheus.Counter
	readError      prometheus.Counter
	notReady       prometheus.Counter

	rejectedLimit      prometheus.Counter
	rejectedNotAllowed prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "haproxy_agent_polls_total",
			Help: "Agent-check polls handled, by service (or fleet server) and outcome (ok, unknown_service, unknown_server, bad_request, read_error, write_error, not_ready).",
		}, []string{"service", "server", "outcome"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "haproxy_agent_poll_connections_rejected_total",
			Help: "Poll connections closed at once, by reason (limit: past the connection cap; not_allowed: client outside the allow list).",
		}, []string{"reason"}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "haproxy_agent_poll_connections_open",
			Help: "Poll connections being handled.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "haproxy_agent_poll_duration_seconds",
			Help:    "Time from accepting a poll connection to writing its reply, for replied polls.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
	}
	if reg != nil {
		m.polls = register(reg, m.polls)
		m.rejected = register(reg, m.rejected)
		m.open = register(reg, m.open)
		m.duration = register(reg, m.duration)
	}
	m.unknownService = m.polls.WithLabelValues("", "", outcomeUnknownService)
	m.unknownServer = m.polls.WithLabelValues("", "", outcomeUnknownServer)
	m.badRequest = m.polls.WithLabelValues("", "", outcomeBadRequest)
	m.readError = m.polls.WithLabelValues("", "", outcomeReadError)
	m.notReady = m.polls.WithLabelValues("", "", outcomeNotReady)
	m.rejectedLimit = m.rejected.WithLabelValues(reasonLimit)
	m.rejectedNotAllowed = m.rejected.WithLabelValues(reasonNotAllowed)
	return m
}

// register registers c, or returns the collector already registered under
// the same description, so that several Servers may share one registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(err)
}
