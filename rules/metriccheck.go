package rules

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

// metricRef is where a metric's value is read, as the file names it.
type metricRef struct {
	srcName  string
	srcNode  *yaml.Node
	text     string     // the selector or the query
	textNode *yaml.Node // the node text stands in
	textKey  string     // "select" or "query" in the mapping form; "" in the short form
	textOff  int        // where text starts in textNode.Value
}

// checkMetric checks a decoded metric against the file's sources and
// fills m. It reports the first problem it finds and returns false then.
func (p *parser) checkMetric(f *File, m *Metric, d metricDoc) bool {
	var (
		ref metricRef
		ok  bool
	)
	if d.short != nil {
		ref, ok = p.shortRef(d)
	} else {
		ref, ok = p.longRef(d)
	}
	if !ok || !p.metricOptions(m, d) {
		return false
	}
	src, ok := p.metricSource(f, m, d, ref)
	return ok && p.history(f, m, src, d)
}

// shortRef splits the short form, SOURCE:SELECTOR.
func (p *parser) shortRef(d metricDoc) (metricRef, bool) {
	v := d.short
	i := strings.IndexByte(v.Value, ':')
	if i < 0 {
		p.errorf(v, d.ctx, "want SOURCE:SELECTOR, such as app:jobs_queue_depth or host:cpu, not %q", v.Value)
		return metricRef{}, false
	}
	rest := v.Value[i+1:]
	return metricRef{
		srcName:  strings.TrimSpace(v.Value[:i]),
		srcNode:  v,
		text:     strings.TrimSpace(rest),
		textNode: v,
		textOff:  i + 1 + len(rest) - len(strings.TrimLeft(rest, " \t")),
	}, true
}

// longRef reads source and the one of select and query of the mapping form.
func (p *parser) longRef(d metricDoc) (ref metricRef, ok bool) {
	if !d.source.given() {
		p.errorf(d.key, d.ctx, "source is required")
		return ref, false
	}
	if ref.srcName, ok = p.scalar(d.source, d.ctx); !ok {
		return ref, false
	}
	ref.srcNode = d.source.val
	var e pair
	switch {
	case d.sel.given() && d.query.given():
		p.errorf(d.query.key, d.ctx, "both select and query given: select is for %s sources, query for %s sources", selectKinds(), queryKinds())
		return ref, false
	case d.sel.given():
		ref.textKey, e = "select", d.sel
	case d.query.given():
		ref.textKey, e = "query", d.query
	default:
		p.errorf(d.key, d.ctx, "needs select: (%s sources) or query: (%s sources)", selectKinds(), queryKinds())
		return ref, false
	}
	ref.textNode = e.val
	ref.text, ok = p.scalar(e, d.ctx)
	return ref, ok
}

// metricOptions reads rate and aggregate, which only the mapping form has.
func (p *parser) metricOptions(m *Metric, d metricDoc) bool {
	if d.rate.given() {
		var ok bool
		if m.Rate, ok = p.boolean(d.rate, d.ctx); !ok {
			return false
		}
	}
	if d.aggregate.given() {
		s, ok := p.scalar(d.aggregate, d.ctx)
		if !ok {
			return false
		}
		if !slices.Contains(aggregations, s) {
			p.errorf(d.aggregate.val, d.ctx, "aggregate %q is not one of %s%s", s, strings.Join(aggregations, ", "), yamlnode.DidYouMean(s, aggregations))
			return false
		}
		m.Aggregate = Aggregation(s)
	}
	return true
}

// metricSource finds the metric's source and checks the selector or query
// against the source's kind.
func (p *parser) metricSource(f *File, m *Metric, d metricDoc, ref metricRef) (*Source, bool) {
	src := f.Source(ref.srcName)
	if src == nil {
		names := make([]string, len(f.Sources))
		for i, s := range f.Sources {
			names[i] = s.Name
		}
		p.errorf(ref.srcNode, d.ctx, "undeclared source %q%s", ref.srcName, yamlnode.DidYouMean(ref.srcName, names))
		return nil, false
	}
	m.Source = src.Name
	if ref.text == "" {
		p.errorf(ref.textNode, d.ctx, "nothing after the source name: want a selector or query")
		return nil, false
	}
	ok := true // a source whose kind is unknown was reported already
	if k := kindOf(src.Kind); k != nil {
		ok = k.metric(p, m, d, ref)
	}
	return src, ok
}
