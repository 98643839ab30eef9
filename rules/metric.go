package rules

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/expr-lang/expr/builtin"
	promparser "github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

// HostMetrics are the metrics the predeclared host source offers: the one
// list, which internal/source's host reader serves (its tests read each).
var HostMetrics = []string{"cpu", "load1", "load5", "load15", "cpus", "mem_used_ratio", "mem_available_bytes"}

var metricNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// exprKeywords are words of the expression language that cannot name a metric.
var exprKeywords = []string{"not", "in", "and", "or", "matches", "contains", "startsWith", "endsWith",
	"let", "if", "else", "true", "false", "nil"}

var metricKeys = []string{"source", "select", "query", "aggregate", "rate", "history", "history_source"}

var aggregations = []string{string(AggSum), string(AggMin), string(AggMax), string(AggAvg), string(AggCount)}

// promql parses selectors and queries with the default options; it is
// safe for concurrent use.
var promql = promparser.NewParser(promparser.Options{})

// metrics reads the metrics section. Every well-formed name goes into known
// even when its definition is wrong, so that rules using it compile.
func (p *parser) metrics(f *File, n *yaml.Node, known map[string]bool) {
	for i, e := range p.entries(n, "", "metric") {
		name := e.key.Value
		ctx := fmt.Sprintf("metric %q: ", name)
		if i >= MaxMetrics {
			p.errorf(e.key, "", "too many metrics: the limit is %d", MaxMetrics)
			return
		}
		if msg := badMetricName(name); msg != "" {
			p.errorf(e.key, "", "%s", msg)
			continue
		}
		known[name] = true
		m := &Metric{Name: name, Pos: posOf(e.key)}
		if p.metric(f, m, e, ctx) {
			m.Index = len(f.Metrics)
			f.Metrics = append(f.Metrics, m)
		}
	}
}

// badMetricName says why a name cannot be used in expressions, or "".
func badMetricName(name string) string {
	switch {
	case !metricNameRe.MatchString(name):
		return fmt.Sprintf("bad metric name %q: want letters, digits and _, not starting with a digit", name)
	case slices.Contains(exprKeywords, name):
		return fmt.Sprintf("bad metric name %q: it is a keyword of the expression language", name)
	case slices.Contains(builtin.Names, name):
		return fmt.Sprintf("bad metric name %q: it is a function of the expression language", name)
	}
	return ""
}

// metric reads one metric's definition, short or long form.
func (p *parser) metric(f *File, m *Metric, e pair, ctx string) bool {
	var (
		srcNode, textNode *yaml.Node
		srcName, text     string
		textKey           string // "select" or "query" in the long form; "" in the short form
		textOff           int    // where text starts in textNode.Value
		rate, agg         *yaml.Node
		hist              map[string]pair // history and history_source, long form only
	)
	switch v := e.val; {
	case yamlnode.IsNull(v):
		p.errorf(e.key, ctx, "missing definition: want SOURCE:SELECTOR, such as app:jobs_queue_depth or host:cpu")
		return false
	case v.Kind == yaml.ScalarNode:
		i := strings.IndexByte(v.Value, ':')
		if i < 0 {
			p.errorf(v, ctx, "want SOURCE:SELECTOR, such as app:jobs_queue_depth or host:cpu, not %q", v.Value)
			return false
		}
		srcNode, textNode = v, v
		srcName = strings.TrimSpace(v.Value[:i])
		rest := v.Value[i+1:]
		text = strings.TrimSpace(rest)
		textOff = i + 1 + len(rest) - len(strings.TrimLeft(rest, " \t"))
	case v.Kind == yaml.MappingNode:
		fs := p.fields(v, ctx, metricKeys)
		sp, ok := fs["source"]
		if !ok {
			p.errorf(e.key, ctx, "source is required")
			return false
		}
		if srcName, ok = p.scalar(sp, ctx); !ok {
			return false
		}
		srcNode = sp.val
		sel, hasSel := fs["select"]
		q, hasQuery := fs["query"]
		switch {
		case hasSel && hasQuery:
			p.errorf(q.key, ctx, "both select and query given: select is for scrape and host sources, query for prometheus sources")
			return false
		case hasSel:
			textKey, textNode = "select", sel.val
			if text, ok = p.scalar(sel, ctx); !ok {
				return false
			}
		case hasQuery:
			textKey, textNode = "query", q.val
			if text, ok = p.scalar(q, ctx); !ok {
				return false
			}
		default:
			p.errorf(e.key, ctx, "needs select: (scrape and host sources) or query: (prometheus sources)")
			return false
		}
		if r, ok := fs["rate"]; ok {
			rate = r.key
			if m.Rate, ok = p.boolean(r, ctx); !ok {
				return false
			}
		}
		if a, ok := fs["aggregate"]; ok {
			agg = a.key
			s, ok := p.scalar(a, ctx)
			if !ok {
				return false
			}
			if !slices.Contains(aggregations, s) {
				p.errorf(a.val, ctx, "aggregate %q is not one of %s%s", s, strings.Join(aggregations, ", "), yamlnode.DidYouMean(s, aggregations))
				return false
			}
			m.Aggregate = Aggregation(s)
		}
		hist = fs
	default:
		p.errorf(e.val, ctx, "want SOURCE:SELECTOR or a mapping with source and select or query, not %s", yamlnode.KindName(e.val))
		return false
	}

	src := f.Source(srcName)
	if src == nil {
		names := make([]string, len(f.Sources))
		for i, s := range f.Sources {
			names[i] = s.Name
		}
		p.errorf(srcNode, ctx, "undeclared source %q%s", srcName, yamlnode.DidYouMean(srcName, names))
		return false
	}
	m.Source = src.Name
	if text == "" {
		p.errorf(textNode, ctx, "nothing after the source name: want a selector or query")
		return false
	}
	switch src.Kind {
	case KindHost:
		if textKey == "query" {
			p.errorf(textNode, ctx, "query is for prometheus sources; use select with a host metric")
			return false
		}
		if !slices.Contains(HostMetrics, text) {
			p.errorf(textNode, ctx, "unknown host metric %q (want one of %s)%s", text, strings.Join(HostMetrics, ", "), yamlnode.DidYouMean(text, HostMetrics))
			return false
		}
		if rate != nil {
			p.errorf(rate, ctx, "rate does not apply to host metrics")
			return false
		}
		if agg != nil {
			p.errorf(agg, ctx, "aggregate does not apply to host metrics")
			return false
		}
		m.Selector = text
	case KindScrape:
		if textKey == "query" {
			p.errorf(textNode, ctx, "query is for prometheus sources; a scrape source takes select: with a series selector")
			return false
		}
		ms, err := promql.ParseMetricSelector(text)
		if err != nil {
			p.promqlError(textNode, textOff, text, ctx, "selector", err)
			return false
		}
		m.Selector, m.Matchers = text, ms
	case KindPrometheus:
		if textKey == "select" {
			p.errorf(textNode, ctx, "select is for scrape and host sources; a prometheus source takes query: with a PromQL expression")
			return false
		}
		if rate != nil && m.Rate {
			p.errorf(rate, ctx, "rate: true is not allowed on a prometheus source: use rate() in the query")
			return false
		}
		q, err := promql.ParseExpr(text)
		if err != nil {
			p.promqlError(textNode, textOff, text, ctx, "query", err)
			return false
		}
		if t := q.Type(); t != promparser.ValueTypeVector && t != promparser.ValueTypeScalar {
			p.errorf(textNode, ctx, "query returns a %s: want an instant vector or a scalar", t)
			return false
		}
		m.Query = text
	}
	return p.history(f, m, src, hist, ctx)
}

// promqlError reports a PromQL parse error, at its own column when the
// text can be located in the file.
func (p *parser) promqlError(n *yaml.Node, off int, text, ctx, what string, err error) {
	var pe promparser.ParseErrors
	if errors.As(err, &pe) && len(pe) > 0 {
		e := pe[0]
		start := int(e.PositionRange.Start)
		if start >= 0 && start <= len(text) && !strings.Contains(text[:start], "\n") {
			if pos, ok := p.innerPos(n, off+start, 1, 1); ok {
				p.errAt(pos, ctx, "bad %s: %v", what, e.Err)
				return
			}
		}
		p.errorf(n, ctx, "bad %s: %v", what, e.Error())
		return
	}
	p.errorf(n, ctx, "bad %s: %v", what, err)
}
