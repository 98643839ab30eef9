package rules

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

var ruleKeys = []string{"name", "when", "then", "weight", "for", "keep_firing_for", "on_missing", "description"}

var onMissing = []string{"keep", "skip", "fire"}

const shortFormHint = `want "EXPR => ACTIONS" such as "cpu > 0.9 => weight 50%", or a mapping with name, when and then`

// ruleList reads a service's list of rules into svc.
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
			r = p.longRule(c, item, ctx, i+1)
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

// longRule reads the mapping form of a rule; nth counts from 1 for messages.
func (p *parser) longRule(c *compiler, n *yaml.Node, ctx string, nth int) *Rule {
	r := &Rule{Action: NewAction(), Pos: posOf(n)}
	rctx := fmt.Sprintf("%srule %d: ", ctx, nth)
	// Name the rule in every message about it, even those found before its name.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], deref(n.Content[i+1]); k.Value == "name" && v.Kind == yaml.ScalarNode && v.Value != "" && !hasControl(v.Value) {
			rctx = ruleCtx(ctx, strings.TrimSpace(v.Value))
		}
	}
	fs := p.fields(n, rctx, ruleKeys)
	if e, ok := fs["name"]; ok {
		if s, ok := p.scalar(e, rctx); ok {
			switch {
			case strings.TrimSpace(s) == "":
				p.errorf(e.val, rctx, "name is empty")
			case hasControl(s):
				p.errorf(e.val, rctx, "name holds a control character (newline, tab...): the reply is one line")
			default:
				r.Name = strings.TrimSpace(s)
			}
		}
	} else {
		p.errorf(n, rctx, "name is required in the mapping form")
	}
	ok := r.Name != ""

	whenPair, hasWhen := fs["when"]
	if !hasWhen {
		p.errorf(n, rctx, "when is required: the condition under which the rule fires")
		ok = false
	}
	thenPair, hasThen := fs["then"]
	wPair, hasWeight := fs["weight"]
	if !hasThen && !hasWeight {
		p.errorf(n, rctx, "needs then: (an action such as drain) or weight: (an expression computing a percent)")
		ok = false
	}
	if hasThen {
		if s, good := p.scalar(thenPair, rctx); !good {
			ok = false
		} else if a, err := ParseAction(s); err != nil {
			p.errorf(thenPair.val, rctx, "then: %v", err)
			ok = false
		} else if a.Weight != Unset && hasWeight {
			p.errorf(wPair.key, rctx, "then sets weight %d%% and weight: computes one; keep one of them", a.Weight)
			ok = false
		} else {
			r.Action = a
		}
	}
	if e, has := fs["for"]; has {
		if d, good := p.duration(e, rctx); good {
			r.For = d
		} else {
			ok = false
		}
	}
	if e, has := fs["keep_firing_for"]; has {
		if d, good := p.duration(e, rctx); good {
			r.KeepFiringFor = d
		} else {
			ok = false
		}
	}
	if e, has := fs["on_missing"]; has {
		if s, good := p.scalar(e, rctx); good {
			switch s {
			case "keep":
				r.OnMissing = Keep
			case "skip":
				r.OnMissing = Skip
			case "fire":
				r.OnMissing = Fire
			default:
				p.errorf(e.val, rctx, "on_missing %q is not one of keep, skip, fire%s", s, yamlnode.DidYouMean(s, onMissing))
				ok = false
			}
		} else {
			ok = false
		}
	}
	if e, has := fs["description"]; has {
		if s, good := p.scalar(e, rctx); !good {
			ok = false
		} else if hasControl(strings.TrimRight(s, "\n")) {
			p.errorf(e.val, rctx, "description holds a control character (newline, tab...): the reply is one line")
			ok = false
		} else {
			r.Description = strings.TrimSpace(s)
		}
	}

	needs := map[int]bool{}
	if hasWhen {
		if s, good := p.scalar(whenPair, rctx); good {
			r.Expr = strings.TrimSpace(s)
			off := len(s) - len(strings.TrimLeft(s, " \t"))
			if r.When = p.compile(c, whenPair.val, off, r.Expr, rctx, "when", true, needs); r.When == nil {
				ok = false
			}
		} else {
			ok = false
		}
	}
	if hasWeight {
		if s, good := p.scalar(wPair, rctx); good {
			r.WeightExpr = strings.TrimSpace(s)
			off := len(s) - len(strings.TrimLeft(s, " \t"))
			if r.Weight = p.compile(c, wPair.val, off, r.WeightExpr, rctx, "weight", false, needs); r.Weight == nil {
				ok = false
			}
		} else {
			ok = false
		}
	}
	if !ok {
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
