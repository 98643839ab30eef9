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
// (decodeShortRule, decodeRule) and then checked and compiled
// (checkShortRule, checkRule) before the next one.
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
			if d, ok := p.decodeShortRule(item, ctx); ok {
				r = p.checkShortRule(c, d)
			}
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
