// Package decisionjson writes the evaluator's decisions as the agent's
// JSON documents show them: /status and `agent eval --output json`. The
// evaluator itself knows nothing of JSON; these views sit beside the
// handlers that serve them.
//
// A decision, its rules and their values are written straight into one
// buffer: the list's for MarshalJSON, or, in a document jsonout writes
// (a Decisions is a jsonout.List), one reused from decision to decision,
// so that the list is never held whole. /status at 10,000 servers holds
// hundreds of thousands of them, and encoding each through a struct and
// an encoder of its own cost several times the document in garbage. Their members and order
// are those of the json tags of evaluator.Decision, RuleResult and Value.
package decisionjson

import (
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/jsonout"
	"github.com/haproxy-agent/agent/rules/ruleset"
)

// Decisions is a list of decisions as the documents show it: a field of
// this type holds []*evaluator.Decision as it is (either is assignable
// to the other) and encodes it with MarshalJSON.
type Decisions []*evaluator.Decision

// MarshalJSON writes the list as encoding/json writes a slice, null when
// nil, with each decision as appendDecision writes it.
func (ds Decisions) MarshalJSON() ([]byte, error) {
	if ds == nil {
		return []byte("null"), nil
	}
	n := 2
	for _, d := range ds {
		n++
		if d != nil {
			n += jsonSize(d)
		}
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, d := range ds {
		if i > 0 {
			b = append(b, ',')
		}
		if d == nil {
			b = append(b, "null"...)
			continue
		}
		var err error
		if b, err = appendDecision(b, d); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// Len is the number of decisions: with AppendElement, the list is a
// jsonout.List, which /status writes a decision at a time rather than
// the list whole.
func (ds Decisions) Len() int { return len(ds) }

// AppendElement appends decision i as MarshalJSON writes it in the list.
func (ds Decisions) AppendElement(b []byte, i int) ([]byte, error) {
	if ds[i] == nil {
		return append(b, "null"...), nil
	}
	return appendDecision(b, ds[i])
}

// appendValue writes a value that is not a finite number as null: JSON
// has no NaN or infinities, and encoding/json would fail the whole
// document, leaving /status and `agent eval --output json` empty exactly
// when a source is down (NaN) or a ratio divides by zero (+Inf). A metric
// that is not missing but infinite says so in "non_finite" ("+Inf", "-Inf").
func appendValue(b []byte, v *evaluator.Value) []byte {
	b = append(b, '{')
	b = jsonout.AppendKey(b, "name")
	b = jsonout.AppendString(b, v.Name)
	b = jsonout.AppendKey(b, "value")
	if v.Missing != "" {
		b = append(b, "null"...)
	} else {
		b = jsonout.AppendFloat(b, v.Value)
		if nf := jsonout.NonFinite(v.Value); nf != "" {
			b = jsonout.AppendKey(b, "non_finite")
			b = jsonout.AppendString(b, nf)
		}
	}
	if v.Missing != "" {
		b = jsonout.AppendKey(b, "missing")
		b = jsonout.AppendString(b, v.Missing)
	}
	return append(b, '}')
}

// appendRule leaves out weight when the rule computes none, rather than
// showing the ruleset.Unset placeholder (-1) as if it were a weight.
func appendRule(b []byte, r *evaluator.RuleResult) ([]byte, error) {
	var err error
	text := r.Text()
	b = append(b, '{')
	b = jsonout.AppendKey(b, "name")
	b = jsonout.AppendString(b, text.Name)
	b = jsonout.AppendKey(b, "expr")
	b = jsonout.AppendString(b, text.Expr)
	b = jsonout.AppendKey(b, "result")
	b = jsonout.AppendString(b, r.Outcome.String())
	b = jsonout.AppendKey(b, "state")
	b = jsonout.AppendString(b, r.State.String())
	if !r.ActiveSince.IsZero() {
		b = jsonout.AppendKey(b, "active_since")
		if b, err = appendTime(b, r.ActiveSince); err != nil {
			return nil, err
		}
	}
	b = jsonout.AppendKey(b, "action")
	b = jsonout.AppendString(b, text.Action)
	b = jsonout.AppendKey(b, "values")
	if r.Values == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Values {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, &r.Values[i])
		}
		b = append(b, ']')
	}
	if r.Error != "" {
		b = jsonout.AppendKey(b, "error")
		b = jsonout.AppendString(b, r.Error)
	}
	if r.Weight != ruleset.Unset {
		b = jsonout.AppendKey(b, "weight")
		b = jsonout.AppendInt(b, int(r.Weight))
	}
	return append(b, '}'), nil
}

// appendDecision leaves out maxconn when the reply carries none, rather
// than showing the ruleset.Unset placeholder (-1) as if it were a limit. A
// fleet server's decision lists only the overrides naming it: those for
// every server are listed once, in the document's overrides, not once per
// server.
func appendDecision(b []byte, d *evaluator.Decision) ([]byte, error) {
	var err error
	b = append(b, '{')
	b = jsonout.AppendKey(b, "service")
	b = jsonout.AppendString(b, d.Service)
	b = jsonout.AppendKey(b, "op")
	b = jsonout.AppendString(b, d.Op.String())
	b = jsonout.AppendKey(b, "admin")
	b = jsonout.AppendString(b, d.Admin.String())
	b = jsonout.AppendKey(b, "weight")
	b = jsonout.AppendInt(b, d.Weight)
	if d.Absolute {
		b = jsonout.AppendKey(b, "absolute")
		b = jsonout.AppendBool(b, true)
	}
	b = jsonout.AppendKey(b, "phase")
	b = jsonout.AppendString(b, string(d.Phase))
	if !d.QuietAt.IsZero() {
		b = jsonout.AppendKey(b, "quiet_at")
		if b, err = appendTime(b, d.QuietAt); err != nil {
			return nil, err
		}
	}
	if d.Ramp != nil {
		b = jsonout.AppendKey(b, "ramp")
		b = append(b, '{')
		b = jsonout.AppendKey(b, "from")
		b = jsonout.AppendInt(b, d.Ramp.From)
		b = jsonout.AppendKey(b, "to")
		b = jsonout.AppendInt(b, d.Ramp.To)
		b = jsonout.AppendKey(b, "since")
		if b, err = appendTime(b, d.Ramp.Since); err != nil {
			return nil, err
		}
		b = jsonout.AppendKey(b, "until")
		if b, err = appendTime(b, d.Ramp.Until); err != nil {
			return nil, err
		}
		b = append(b, '}')
	}
	if d.Description != "" {
		b = jsonout.AppendKey(b, "description")
		b = jsonout.AppendString(b, d.Description)
	}
	b = jsonout.AppendKey(b, "reply")
	b = jsonout.AppendString(b, d.Reply)
	b = jsonout.AppendKey(b, "firing")
	if d.Firing == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, f := range d.Firing {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonout.AppendString(b, f)
		}
		b = append(b, ']')
	}
	b = jsonout.AppendKey(b, "rules")
	if d.Rules == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range d.Rules {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendRule(b, &d.Rules[i]); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	if d.Server != "" {
		b = jsonout.AppendKey(b, "server")
		b = jsonout.AppendString(b, d.Server)
	}
	if d.Held {
		b = jsonout.AppendKey(b, "held")
		b = jsonout.AppendBool(b, true)
	}
	if d.Stale {
		b = jsonout.AppendKey(b, "stale")
		b = jsonout.AppendBool(b, true)
	}
	if d.OutBy != "" {
		b = jsonout.AppendKey(b, "out_by")
		b = jsonout.AppendString(b, d.OutBy)
	}
	if d.Restore {
		b = jsonout.AppendKey(b, "restore")
		b = jsonout.AppendBool(b, true)
	}
	if d.Maxconn != ruleset.Unset {
		b = jsonout.AppendKey(b, "maxconn")
		b = jsonout.AppendInt(b, d.Maxconn)
	}
	ovs := d.Overrides
	if d.Server != "" {
		ovs = nil
		for _, o := range d.Overrides {
			if o.Service == d.Server {
				ovs = append(ovs, o)
			}
		}
	}
	if len(ovs) > 0 {
		data, err := jsonout.Compact(ovs)
		if err != nil {
			return nil, err
		}
		b = jsonout.AppendKey(b, "overrides")
		b = append(b, data...)
	}
	return append(b, '}'), nil
}

// jsonSize is a little more than the length of the decision's JSON
// without overrides, so that a list's buffer is allocated once.
func jsonSize(d *evaluator.Decision) int {
	n := 256 + 2*(len(d.Service)+len(d.Description)+len(d.Reply)+len(d.Server)+len(d.OutBy))
	if d.Ramp != nil {
		n += 128
	}
	for _, f := range d.Firing {
		n += 3 + 2*len(f)
	}
	for i := range d.Rules {
		r := &d.Rules[i]
		text := r.Text()
		n += 160 + 2*(len(text.Name)+len(text.Expr)+len(text.Action)+len(r.Error))
		for _, v := range r.Values {
			n += 64 + 2*(len(v.Name)+len(v.Missing))
		}
	}
	return n
}

// appendTime appends t as encoding/json writes a time.Time (RFC 3339 with
// nanoseconds), failing as it does for a year it cannot write.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	data, err := t.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return append(b, data...), nil
}
