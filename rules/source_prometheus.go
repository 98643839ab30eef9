package rules

import (
	"strconv"
	"strings"

	"github.com/prometheus/common/config"
)

// KindPrometheus names the prometheus kind of source.
const KindPrometheus SourceKind = "prometheus"

// PrometheusConfig is what a prometheus source reads: PromQL instant
// queries against a Prometheus-compatible HTTP API, each distinct query
// once per cycle.
type PrometheusConfig struct {
	// URL is the API's base URL (prometheus: URL).
	URL string
	// MaxConcurrency bounds the queries in flight at once, each on its
	// own kept-alive connection (max_concurrency, default
	// DefaultMaxConcurrency).
	MaxConcurrency int
	// HTTP holds the HTTP client settings (auth, TLS, proxy), validated.
	HTTP config.HTTPClientConfig
}

func (c *PrometheusConfig) httpSettings() *config.HTTPClientConfig { return &c.HTTP }

var prometheusKind = &srcKind{
	name:    KindPrometheus,
	key:     "prometheus",
	target:  "URL (a Prometheus API)",
	options: []string{"max_concurrency"},
	http:    true,
	query:   true,
	newConfig: func(*Source) any {
		return &PrometheusConfig{MaxConcurrency: DefaultMaxConcurrency, HTTP: config.DefaultHTTPClientConfig}
	},
	check: func(p *parser, s *Source, d sourceDoc) {
		c := s.Config.(*PrometheusConfig)
		c.URL = p.sourceURL(d)
		if o := d.option("max_concurrency"); o.given() {
			text, ok := p.scalar(o, d.ctx)
			if !ok {
				return
			}
			n, err := strconv.Atoi(strings.TrimSpace(text))
			if err != nil || n < 1 || n > MaxMaxConcurrency {
				p.errorf(o.val, d.ctx, "max_concurrency: want a whole number from 1 to %d, got %q", MaxMaxConcurrency, text)
				return
			}
			c.MaxConcurrency = n
		}
	},
	metric: promMetric,
}

// promMetric checks a metric of a prometheus source: a PromQL query that
// returns an instant vector or a scalar.
func promMetric(p *parser, m *Metric, d metricDoc, ref metricRef) bool {
	if ref.textKey == "select" {
		p.errorf(ref.textNode, d.ctx, "select is for %s sources; a prometheus source takes query: with a PromQL expression", selectKinds())
		return false
	}
	if d.rate.given() && m.Rate {
		p.errorf(d.rate.key, d.ctx, "rate: true is not allowed on a prometheus source: use rate() in the query")
		return false
	}
	if !p.instantQuery(ref.textNode, ref.textOff, ref.text, d.ctx, "query") {
		return false
	}
	m.Query = ref.text
	return true
}
