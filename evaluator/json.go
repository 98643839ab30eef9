package evaluator

import (
	"github.com/haproxy-agent/agent/internal/jsonout"
	"github.com/haproxy-agent/agent/rules"
)

// MarshalJSON leaves out weight when the rule computes none, rather than
// showing the rules.Unset placeholder (-1) as if it were a weight.
func (r RuleResult) MarshalJSON() ([]byte, error) {
	type plain RuleResult
	out := struct {
		plain
		Weight *int `json:"weight,omitempty"`
	}{plain: plain(r)}
	if r.Weight != rules.Unset {
		out.Weight = &r.Weight
	}
	return jsonout.Compact(out)
}

// MarshalJSON leaves out maxconn when the reply carries none, rather than
// showing the rules.Unset placeholder (-1) as if it were a limit.
func (d Decision) MarshalJSON() ([]byte, error) {
	type plain Decision
	out := struct {
		plain
		Maxconn *int `json:"maxconn,omitempty"`
	}{plain: plain(d)}
	if d.Maxconn != rules.Unset {
		out.Maxconn = &d.Maxconn
	}
	return jsonout.Compact(out)
}
