package rules

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

var ruleKeys = []string{"name", "when", "then", "weight", "for", "keep_firing_for", "on_missing", "description"}

// ruleDoc is the mapping form of a rule as the file writes it: decoded and
// its keys checked, nothing more. Each field keeps its key and its value
// node, the zero pair when the key is absent, so that the check pass
// (checkRule) reports every problem where it stands, as Prometheus' rulefmt
// keeps yaml.Node fields for its check.
type ruleDoc struct {
	node *yaml.Node // the mapping
	// ctx prefixes every message about the rule: its name when it has a
	// usable one, else its place in the list.
	ctx string

	name, when, then, weight pair
	forDur, keepFiringFor    pair
	onMissing, description   pair
}

// given reports whether the key of e is in the mapping.
func (e pair) given() bool { return e.key != nil }

// decodeRule decodes mapping n, the nth item (from 1) of a rules list,
// reporting unknown and duplicate keys.
func (p *parser) decodeRule(n *yaml.Node, ctx string, nth int) ruleDoc {
	d := ruleDoc{node: n, ctx: fmt.Sprintf("%srule %d: ", ctx, nth)}
	// Name the rule in every message about it, even those found before its name.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], deref(n.Content[i+1]); k.Value == "name" && v.Kind == yaml.ScalarNode && v.Value != "" && !hasControl(v.Value) {
			d.ctx = ruleCtx(ctx, strings.TrimSpace(v.Value))
		}
	}
	fs := p.fields(n, d.ctx, ruleKeys)
	d.name, d.when, d.then, d.weight = fs["name"], fs["when"], fs["then"], fs["weight"]
	d.forDur, d.keepFiringFor = fs["for"], fs["keep_firing_for"]
	d.onMissing, d.description = fs["on_missing"], fs["description"]
	return d
}
