package rules

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

const shortFormHint = `want "EXPR => ACTIONS" such as "cpu > 0.9 => weight 50%", or a mapping with name, when and then`

// ruleList reads a service's list of rules into svc. Each item is decoded
// (decodeRule) and then checked and compiled (checkRule) before the next
// one, so that problems at the same place keep the order they are found in.
func (p *parser) ruleList(c *compiler, svc *Service, e pair, ctx string) {
	if yamlnode.IsNull(e.val) {
		p.errorf(e.key, ctx, "rules: missing value: a file cut short must not load as no rules; write \"rules: []\" for none")
		return
	}
	if e.val.Kind != yaml.SequenceNode {
		p.errorf(e.val, ctx, "rules: want a list of rules, got %s", yamlnode.KindName(e.val))
		return
	}
	names := map[string]Pos{}
	for i, item := range e.val.Content {
		item = deref(item)
		if c.rules >= MaxRules {
			p.errorf(item, ctx, "too many rules: the limit is %d", MaxRules)
			return
		}
		c.rules++
		var r *Rule
		switch item.Kind {
		case yaml.ScalarNode:
			if item.Tag != "!!str" {
				p.errorf(item, ctx, "rule %d: %s, not %s", i+1, shortFormHint, yamlnode.KindName(item))
				continue
			}
			r = p.shortRule(c, item, ctx)
		case yaml.MappingNode:
			r = p.checkRule(c, p.decodeRule(item, ctx, i+1))
		default:
			p.errorf(item, ctx, "rule %d: %s", i+1, shortFormHint)
		}
		if r == nil {
			continue
		}
		if first, dup := names[r.Name]; dup {
			p.errorf(item, ruleCtx(ctx, r.Name), "duplicate rule name (first at %d:%d): names carry rule state across reloads", first.Line, first.Col)
			continue
		}
		names[r.Name] = r.Pos
		if r.Action.Maxconn != Unset {
			svc.UsesMaxconn = true
		}
		svc.Rules = append(svc.Rules, r)
	}
}

// shortRule reads "EXPR => ACTIONS" from a string node.
func (p *parser) shortRule(c *compiler, n *yaml.Node, ctx string) *Rule {
	i := strings.LastIndex(n.Value, "=>")
	if i < 0 {
		p.errorf(n, ruleCtx(ctx, oneLine(n.Value)), "no \"=>\": %s", shortFormHint)
		return nil
	}
	src, act := n.Value[:i], strings.TrimSpace(n.Value[i+2:])
	name := oneLine(src)
	switch {
	case name == "" && act == "":
		p.errorf(n, ctx, "nothing before or after =>: %s", shortFormHint)
		return nil
	case name == "":
		p.errorf(n, ctx, "nothing before =>: want a condition such as cpu > 0.9")
		return nil
	}
	rctx := ruleCtx(ctx, name)
	if act == "" {
		p.errorf(n, rctx, "nothing after =>: want an action such as drain or weight 50%%")
		return nil
	}
	r := &Rule{Name: name, Expr: strings.TrimSpace(src), Pos: posOf(n)}
	a, err := ParseAction(act)
	if err != nil {
		p.errorf(n, rctx, "%v", err)
		return nil
	}
	r.Action = a
	needs := map[int]bool{}
	off := len(src) - len(strings.TrimLeft(src, " \t"))
	if r.When = p.compile(c, n, off, r.Expr, rctx, "when", true, needs); r.When == nil {
		return nil
	}
	r.Needs = sortedNeeds(needs)
	return r
}

// oneLine collapses runs of white space, so that a name fits in a reply line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// ruleCtx is the message prefix naming a rule; long names are cut.
func ruleCtx(ctx, name string) string {
	return fmt.Sprintf("%srule %q: ", ctx, shorten(name))
}

// shorten cuts a name to be shown in a message to 60 bytes and "...".
func shorten(name string) string {
	const maxShown = 60
	if len(name) > maxShown {
		cut := maxShown
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut] + "..."
	}
	return name
}
