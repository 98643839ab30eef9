package rules

import (
	promparser "github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

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
