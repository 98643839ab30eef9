package rules

import (
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

var onMissing = []string{"keep", "skip", "fire"}

// checkRule checks a decoded rule and compiles its expressions. It reports
// every problem it finds, in the order the keys are checked (name, the
// required keys, then, for, keep_firing_for, on_missing, description, when
// and weight), and returns nil when there was one.
func (p *parser) checkRule(c *compiler, d ruleDoc) *Rule {
	r := &Rule{Action: NewAction(), Pos: posOf(d.node)}
	ok := p.ruleName(d, r)
	if !d.when.given() {
		p.errorf(d.node, d.ctx, "when is required: the condition under which the rule fires")
		ok = false
	}
	if !d.then.given() && !d.weight.given() {
		p.errorf(d.node, d.ctx, "needs then: (an action such as drain) or weight: (an expression computing a percent)")
		ok = false
	}
	ok = p.ruleThen(d, r) && ok
	ok = p.optDuration(d.forDur, d.ctx, &r.For) && ok
	ok = p.optDuration(d.keepFiringFor, d.ctx, &r.KeepFiringFor) && ok
	ok = p.ruleOnMissing(d, r) && ok
	ok = p.ruleDescription(d, r) && ok
	needs := map[int]bool{}
	ok = p.ruleExpr(c, d.when, d.ctx, "when", needs, &r.Expr, &r.When) && ok
	ok = p.ruleExpr(c, d.weight, d.ctx, "weight", needs, &r.WeightExpr, &r.Weight) && ok
	if !ok {
		return nil
	}
	r.Needs = sortedNeeds(needs)
	return r
}

// ruleName sets the rule's name, required in the mapping form.
func (p *parser) ruleName(d ruleDoc, r *Rule) bool {
	if !d.name.given() {
		p.errorf(d.node, d.ctx, "name is required in the mapping form")
		return false
	}
	s, ok := p.scalar(d.name, d.ctx)
	switch {
	case !ok:
	case strings.TrimSpace(s) == "":
		p.errorf(d.name.val, d.ctx, "name is empty")
	case hasControl(s):
		p.errorf(d.name.val, d.ctx, "name holds a control character (newline, tab...): the reply is one line")
	default:
		r.Name = strings.TrimSpace(s)
	}
	return r.Name != ""
}

// ruleThen sets the rule's action from then:, which may not set a weight
// that weight: computes.
func (p *parser) ruleThen(d ruleDoc, r *Rule) bool {
	if !d.then.given() {
		return true
	}
	s, ok := p.scalar(d.then, d.ctx)
	if !ok {
		return false
	}
	a, err := ParseAction(s)
	switch {
	case err != nil:
		p.errorf(d.then.val, d.ctx, "then: %v", err)
		return false
	case a.Weight != Unset && d.weight.given():
		p.errorf(d.weight.key, d.ctx, "then sets weight %d%% and weight: computes one; keep one of them", a.Weight)
		return false
	}
	r.Action = a
	return true
}

// optDuration sets *d from e when the key is given.
func (p *parser) optDuration(e pair, ctx string, d *time.Duration) bool {
	if !e.given() {
		return true
	}
	v, ok := p.duration(e, ctx)
	if ok {
		*d = v
	}
	return ok
}

// ruleOnMissing sets what the rule does when a metric it reads is missing.
func (p *parser) ruleOnMissing(d ruleDoc, r *Rule) bool {
	if !d.onMissing.given() {
		return true
	}
	s, ok := p.scalar(d.onMissing, d.ctx)
	if !ok {
		return false
	}
	switch s {
	case "keep":
		r.OnMissing = Keep
	case "skip":
		r.OnMissing = Skip
	case "fire":
		r.OnMissing = Fire
	default:
		p.errorf(d.onMissing.val, d.ctx, "on_missing %q is not one of keep, skip, fire%s", s, yamlnode.DidYouMean(s, onMissing))
		return false
	}
	return true
}

// ruleDescription sets the text that names the rule in the reply.
func (p *parser) ruleDescription(d ruleDoc, r *Rule) bool {
	if !d.description.given() {
		return true
	}
	s, ok := p.scalar(d.description, d.ctx)
	switch {
	case !ok:
		return false
	case hasControl(strings.TrimRight(s, "\n")):
		p.errorf(d.description.val, d.ctx, "description holds a control character (newline, tab...): the reply is one line")
		return false
	}
	r.Description = strings.TrimSpace(s)
	return true
}

// ruleExpr compiles the expression of when: or weight: (what) when the key
// is given, setting its text and program and adding the metrics it reads
// to needs.
func (p *parser) ruleExpr(c *compiler, e pair, ctx, what string, needs map[int]bool, text *string, prog **vm.Program) bool {
	if !e.given() {
		return true
	}
	s, ok := p.scalar(e, ctx)
	if !ok {
		return false
	}
	*text = strings.TrimSpace(s)
	off := len(s) - len(strings.TrimLeft(s, " \t"))
	*prog = p.compile(c, e.val, off, *text, ctx, what, what == "when", needs)
	return *prog != nil
}
