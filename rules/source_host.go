package rules

import (
	"slices"
	"strings"
	"time"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

// KindHost names the host kind of source.
const KindHost SourceKind = "host"

// HostConfig is what the predeclared host source reads: the host's own
// counters (HostMetrics). It has no settings.
type HostConfig struct{}

var hostKind = &srcKind{
	name:      KindHost,
	newConfig: func(*Source) any { return &HostConfig{} },
	check:     func(*parser, *Source, sourceDoc) {},
	metric:    hostMetric,
}

// hostSource is the predeclared host source of a file read every interval.
func hostSource(interval time.Duration) *Source {
	return &Source{Name: HostSource, Kind: KindHost, Timeout: min(DefaultTimeout, interval), Config: &HostConfig{}}
}

// hostMetric checks a metric of the host source: one of HostMetrics.
func hostMetric(p *parser, m *Metric, d metricDoc, ref metricRef) bool {
	switch {
	case ref.textKey == "query":
		p.errorf(ref.textNode, d.ctx, "query is for %s sources; use select with a host metric", queryKinds())
	case !slices.Contains(HostMetrics, ref.text):
		p.errorf(ref.textNode, d.ctx, "unknown host metric %q (want one of %s)%s", ref.text, strings.Join(HostMetrics, ", "), yamlnode.DidYouMean(ref.text, HostMetrics))
	case d.rate.given():
		p.errorf(d.rate.key, d.ctx, "rate does not apply to host metrics")
	case d.aggregate.given():
		p.errorf(d.aggregate.key, d.ctx, "aggregate does not apply to host metrics")
	default:
		m.Selector = ref.text
		return true
	}
	return false
}
