package evaluator

import (
	"bytes"
	"encoding/json"

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
	return marshal(out)
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
	return marshal(out)
}

// marshal encodes v without HTML escaping: a MarshalJSON result is used as
// is, so an escaping json.Marshal here would turn every ">" of an
// expression into \u003e whatever the caller's encoder says.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
