package evaluator

import (
	"time"

	"github.com/haproxy-agent/agent/internal/jsonout"
	"github.com/haproxy-agent/agent/rules"
)

// The MarshalJSON methods of Value, RuleResult and Decision write their
// fields straight into one buffer per decision: /status at 10,000 servers
// holds hundreds of thousands of them, and encoding each through a
// struct and an encoder of its own cost several times the document in
// garbage. Their members and order are those of the structs' json tags.

// MarshalJSON writes a value that is not a finite number as null: JSON has
// no NaN or infinities, and encoding/json would fail the whole document,
// leaving /status and `agent eval --output json` empty exactly when a
// source is down (NaN) or a ratio divides by zero (+Inf). A metric that is
// not missing but infinite says so in "non_finite" ("+Inf", "-Inf").
func (v Value) MarshalJSON() ([]byte, error) {
	return v.appendJSON(make([]byte, 0, 64)), nil
}

func (v Value) appendJSON(b []byte) []byte {
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

// MarshalJSON leaves out weight when the rule computes none, rather than
// showing the rules.Unset placeholder (-1) as if it were a weight.
func (r RuleResult) MarshalJSON() ([]byte, error) {
	return r.appendJSON(make([]byte, 0, 256))
}

func (r *RuleResult) appendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, '{')
	b = jsonout.AppendKey(b, "name")
	b = jsonout.AppendString(b, r.Name)
	b = jsonout.AppendKey(b, "expr")
	b = jsonout.AppendString(b, r.Expr)
	b = jsonout.AppendKey(b, "result")
	b = jsonout.AppendString(b, string(r.Outcome))
	b = jsonout.AppendKey(b, "state")
	b = jsonout.AppendString(b, string(r.State))
	if !r.ActiveSince.IsZero() {
		b = jsonout.AppendKey(b, "active_since")
		if b, err = appendTime(b, r.ActiveSince); err != nil {
			return nil, err
		}
	}
	b = jsonout.AppendKey(b, "action")
	b = jsonout.AppendString(b, r.Action)
	b = jsonout.AppendKey(b, "values")
	if r.Values == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, v := range r.Values {
			if i > 0 {
				b = append(b, ',')
			}
			b = v.appendJSON(b)
		}
		b = append(b, ']')
	}
	if r.Error != "" {
		b = jsonout.AppendKey(b, "error")
		b = jsonout.AppendString(b, r.Error)
	}
	if r.Weight != rules.Unset {
		b = jsonout.AppendKey(b, "weight")
		b = jsonout.AppendInt(b, r.Weight)
	}
	return append(b, '}'), nil
}

// MarshalJSON leaves out maxconn when the reply carries none, rather than
// showing the rules.Unset placeholder (-1) as if it were a limit. A fleet
// server's decision lists only the overrides naming it: those for every
// server are listed once, in Result.Overrides, not once per server.
func (d Decision) MarshalJSON() ([]byte, error) {
	var err error
	b := make([]byte, 0, d.jsonSize())
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
			if b, err = d.Rules[i].appendJSON(b); err != nil {
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
	if d.Maxconn != rules.Unset {
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
// without overrides, so that its buffer is allocated once.
func (d *Decision) jsonSize() int {
	n := 256 + 2*(len(d.Service)+len(d.Description)+len(d.Reply)+len(d.Server)+len(d.OutBy))
	if d.Ramp != nil {
		n += 128
	}
	for _, f := range d.Firing {
		n += 3 + 2*len(f)
	}
	for i := range d.Rules {
		r := &d.Rules[i]
		n += 160 + 2*(len(r.Name)+len(r.Expr)+len(r.Action)+len(r.Error))
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
