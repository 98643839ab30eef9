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
// showing the rules.Unset placeholder (-1) as if it were a limit. A fleet
// server's decision lists only the overrides naming it: those for every
// server are listed once, in Result.Overrides, not once per server.
func (d Decision) MarshalJSON() ([]byte, error) {
	type plain Decision
	out := struct {
		plain
		Maxconn   *int       `json:"maxconn,omitempty"`
		Overrides []Override `json:"overrides,omitempty"`
	}{plain: plain(d), Overrides: d.Overrides}
	if d.Maxconn != rules.Unset {
		out.Maxconn = &d.Maxconn
	}
	if d.Server != "" {
		out.Overrides = nil
		for _, o := range d.Overrides {
			if o.Service == d.Server {
				out.Overrides = append(out.Overrides, o)
			}
		}
	}
	return jsonout.Compact(out)
}
