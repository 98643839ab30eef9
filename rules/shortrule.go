package rules

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// shortDoc is the short form of a rule, "EXPR => ACTIONS", split.
type shortDoc struct {
	node   *yaml.Node // the string
	ctx    string     // prefixes every message about the rule, which it names
	name   string     // EXPR on one line
	expr   string     // EXPR, trimmed
	off    int        // where expr starts in node.Value
	action string     // ACTIONS, trimmed
}

// decodeShortRule splits the string n at its last "=>", reporting a side
// that is missing.
func (p *parser) decodeShortRule(n *yaml.Node, ctx string) (shortDoc, bool) {
	i := strings.LastIndex(n.Value, "=>")
	if i < 0 {
		p.errorf(n, ruleCtx(ctx, oneLine(n.Value)), "no \"=>\": %s", shortFormHint)
		return shortDoc{}, false
	}
	src := n.Value[:i]
	d := shortDoc{
		node:   n,
		name:   oneLine(src),
		expr:   strings.TrimSpace(src),
		off:    len(src) - len(strings.TrimLeft(src, " \t")),
		action: strings.TrimSpace(n.Value[i+2:]),
	}
	switch {
	case d.name == "" && d.action == "":
		p.errorf(n, ctx, "nothing before or after =>: %s", shortFormHint)
		return d, false
	case d.name == "":
		p.errorf(n, ctx, "nothing before =>: want a condition such as cpu > 0.9")
		return d, false
	}
	d.ctx = ruleCtx(ctx, d.name)
	if d.action == "" {
		p.errorf(n, d.ctx, "nothing after =>: want an action such as drain or weight 50%%")
		return d, false
	}
	return d, true
}

// checkShortRule parses the action of a decoded short rule and compiles
// its condition, reporting the problems of both; it returns nil after
// reporting any.
func (p *parser) checkShortRule(c *compiler, d shortDoc) *Rule {
	a, err := ParseAction(d.action)
	if err != nil {
		p.errorf(d.node, d.ctx, "%v", err)
	}
	r := &Rule{Name: d.name, Expr: d.expr, Action: a, Pos: posOf(d.node)}
	needs := map[int]bool{}
	if r.When = p.compile(c, d.node, d.off, r.Expr, d.ctx, "when", true, needs); r.When == nil || err != nil {
		return nil
	}
	r.Needs = sortedNeeds(needs)
	return r
}
