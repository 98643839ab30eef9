package rules

import (
	"slices"
	"strings"

	promparser "github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

// hostMetric checks a metric of the host source: one of HostMetrics.
func (p *parser) hostMetric(m *Metric, d metricDoc, ref metricRef) bool {
	switch {
	case ref.textKey == "query":
		p.errorf(ref.textNode, d.ctx, "query is for prometheus sources; use select with a host metric")
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

// seriesMetric checks a metric of a source of series with labels (a
// scraped page, a probe, a command's output): a series selector.
func (p *parser) seriesMetric(kind SourceKind, m *Metric, d metricDoc, ref metricRef) bool {
	if ref.textKey == "query" {
		p.errorf(ref.textNode, d.ctx, "query is for prometheus sources; %s source takes select: with a series selector", article(kind))
		return false
	}
	ms, err := promql.ParseMetricSelector(ref.text)
	if err != nil {
		p.promqlError(ref.textNode, ref.textOff, ref.text, d.ctx, "selector", err)
		return false
	}
	m.Selector, m.Matchers = ref.text, ms
	return true
}

// promMetric checks a metric of a prometheus source: a PromQL query that
// returns an instant vector or a scalar.
func (p *parser) promMetric(m *Metric, d metricDoc, ref metricRef) bool {
	if ref.textKey == "select" {
		p.errorf(ref.textNode, d.ctx, "select is for every kind but prometheus; a prometheus source takes query: with a PromQL expression")
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

// instantQuery checks text, the PromQL of node n (what names it in
// messages; off is where text starts in n's value): it must parse and
// return an instant vector or a scalar.
func (p *parser) instantQuery(n *yaml.Node, off int, text, ctx, what string) bool {
	q, err := promql.ParseExpr(text)
	if err != nil {
		p.promqlError(n, off, text, ctx, what, err)
		return false
	}
	if t := q.Type(); t != promparser.ValueTypeVector && t != promparser.ValueTypeScalar {
		p.errorf(n, ctx, "%s returns a %s: want an instant vector or a scalar", what, t)
		return false
	}
	return true
}

// article puts "a" or "an" before a kind's name.
func article(k SourceKind) string {
	if k == KindHTTP || k == KindExec {
		return "an " + string(k)
	}
	return "a " + string(k)
}
