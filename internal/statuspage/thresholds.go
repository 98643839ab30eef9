package statuspage

import (
	"cmp"
	"slices"

	"github.com/expr-lang/expr/ast"

	"github.com/haproxy-agent/agent/rules"
)

// Threshold is a value at which a rule's comparison of a metric turns,
// drawn as a dashed line across the metric's chart.
type Threshold struct {
	Value float64
	// Rules are the comparisons that turn there, in file order, as
	// "cpu > 0.9 → drain (rule cpu-high)".
	Rules []string
}

// Thresholds returns, per metric name, the thresholds its rules can be
// read to have (those of every service): each comparison of the metric
// with a number, `metric OP number` or `number OP metric` with OP one of
// > >= < <=, wherever it sits in a rule's condition. A comparison that
// computes on the metric first (`metric * 100 > 5`, `int(metric) > 5`) or
// compares two metrics is not drawn. The thresholds of a metric are
// sorted by value.
func Thresholds(f *rules.File) map[string][]Threshold {
	names := make(map[string]bool, len(f.Metrics))
	for _, m := range f.Metrics {
		names[m.Name] = true
	}
	out := map[string][]Threshold{}
	for _, svc := range f.Services {
		for _, r := range svc.Rules {
			if r.When == nil {
				continue
			}
			v := &thresholdVisitor{names: names}
			n := r.When.Node()
			ast.Walk(&n, v)
			for _, c := range v.found {
				text := c.metric + " " + c.op + " " + formatNumber(c.value) + " → " + r.Action.String()
				if r.Name != r.Expr {
					text += " (rule " + r.Name + ")"
				}
				ts := out[c.metric]
				i := slices.IndexFunc(ts, func(t Threshold) bool { return t.Value == c.value })
				if i < 0 {
					ts = append(ts, Threshold{Value: c.value})
					i = len(ts) - 1
				}
				if !slices.Contains(ts[i].Rules, text) {
					ts[i].Rules = append(ts[i].Rules, text)
				}
				out[c.metric] = ts
			}
		}
	}
	for _, ts := range out {
		slices.SortStableFunc(ts, func(a, b Threshold) int { return cmp.Compare(a.Value, b.Value) })
	}
	return out
}

// comparison is `metric op value`, the metric on the left.
type comparison struct {
	metric, op string
	value      float64
}

type thresholdVisitor struct {
	names map[string]bool
	found []comparison
}

// flipped is the operator with its sides swapped: 5 < x is x > 5.
var flipped = map[string]string{">": "<", ">=": "<=", "<": ">", "<=": ">="}

func (v *thresholdVisitor) Visit(n *ast.Node) {
	b, ok := (*n).(*ast.BinaryNode)
	if !ok {
		return
	}
	op, ok := flipped[b.Operator]
	if !ok {
		return
	}
	if name, ok := v.metric(b.Left); ok {
		if x, ok := number(b.Right); ok {
			v.found = append(v.found, comparison{name, b.Operator, x})
		}
	} else if name, ok := v.metric(b.Right); ok {
		if x, ok := number(b.Left); ok {
			v.found = append(v.found, comparison{name, op, x})
		}
	}
}

func (v *thresholdVisitor) metric(n ast.Node) (string, bool) {
	id, ok := n.(*ast.IdentifierNode)
	if !ok || !v.names[id.Value] {
		return "", false
	}
	return id.Value, true
}

// number is the value of a number literal, negated or not.
func number(n ast.Node) (float64, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return float64(n.Value), true
	case *ast.FloatNode:
		return n.Value, true
	case *ast.UnaryNode:
		if x, ok := number(n.Node); ok {
			switch n.Operator {
			case "-":
				return -x, true
			case "+":
				return x, true
			}
		}
	}
	return 0, false
}
