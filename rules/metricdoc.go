package rules

import (
	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

var metricKeys = []string{"source", "select", "query", "aggregate", "rate", "history", "history_source"}

// metricDoc is one entry of the metrics section as the file writes it:
// decoded and its keys checked, nothing more. Nodes are kept for the
// positions of the check pass (checkMetric).
type metricDoc struct {
	key *yaml.Node // the metric's name
	ctx string     // prefixes every message about the metric
	// short is the string of the short form, SOURCE:SELECTOR; nil for the
	// mapping form, whose keys are the pairs below (zero when absent).
	short *yaml.Node

	source, sel, query     pair
	aggregate, rate        pair
	history, historySource pair
}

// decodeMetric decodes the definition of the metric named by e.key:
// a string or a mapping, whose keys it checks. ok is false, the problem
// reported, when the definition is neither.
func (p *parser) decodeMetric(e pair, ctx string) (d metricDoc, ok bool) {
	d = metricDoc{key: e.key, ctx: ctx}
	switch v := e.val; {
	case yamlnode.IsNull(v):
		p.errorf(e.key, ctx, "missing definition: want SOURCE:SELECTOR, such as app:jobs_queue_depth or host:cpu")
		return d, false
	case v.Kind == yaml.ScalarNode:
		d.short = v
	case v.Kind == yaml.MappingNode:
		fs := p.fields(v, ctx, metricKeys)
		d.source, d.sel, d.query = fs["source"], fs["select"], fs["query"]
		d.aggregate, d.rate = fs["aggregate"], fs["rate"]
		d.history, d.historySource = fs["history"], fs["history_source"]
	default:
		p.errorf(e.val, ctx, "want SOURCE:SELECTOR or a mapping with source and select or query, not %s", yamlnode.KindName(e.val))
		return d, false
	}
	return d, true
}
