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
)

// HostMetrics are the metrics the predeclared host source offers: the one
// list, which internal/source's host reader serves (its tests read each).
var HostMetrics = []string{"cpu", "load1", "load5", "load15", "cpus", "mem_used_ratio", "mem_available_bytes"}

var metricNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// exprKeywords are words of the expression language that cannot name a metric.
var exprKeywords = []string{"not", "in", "and", "or", "matches", "contains", "startsWith", "endsWith",
	"let", "if", "else", "true", "false", "nil"}

var aggregations = []string{string(AggSum), string(AggMin), string(AggMax), string(AggAvg), string(AggCount)}

// promql parses selectors and queries with the default options; it is
// safe for concurrent use.
var promql = promparser.NewParser(promparser.Options{})

// metrics reads the metrics section. Every well-formed name goes into known
// even when its definition is wrong, so that rules using it compile. Each
// definition is decoded (decodeMetric), then checked (checkMetric) before
// the next one, so that problems at the same place keep their order.
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
		if d, ok := p.decodeMetric(e, ctx); ok && p.checkMetric(f, m, d) {
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
