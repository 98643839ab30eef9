package statuspage

import (
	"fmt"
	"strings"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/rules"
)

// FromDecision turns one evaluated decision into a Target of the given
// kind ("service", or "server" in fleet mode).
func FromDecision(kind string, d *evaluator.Decision, now time.Time) Target {
	t := Target{
		Kind:      kind,
		Name:      d.Service,
		Reply:     strings.TrimSuffix(d.Reply, "\n"),
		Reason:    Reason(d, now),
		State:     StateOf(d),
		Out:       d.Out(),
		WeightKey: WeightKey(kind, d.Service),
		StateKey:  StateKey(kind, d.Service),
		Rules:     make([]Rule, len(d.Rules)),
		Facts:     facts(d, now),
	}
	for i, r := range d.Rules {
		vals := make([]Value, len(r.Values))
		for j, v := range r.Values {
			vals[j] = Value(v)
		}
		text := r.Text()
		action := text.Action
		if r.Weight >= 0 && strings.HasPrefix(action, "weight ") && !strings.HasSuffix(action, "%") {
			action = fmt.Sprintf("%s = %d%%", action, r.Weight)
		}
		t.Rules[i] = Rule{
			Name: text.Name, Expr: text.Expr, Action: action,
			Result: r.Outcome.String(), State: r.State.String(), Since: r.ActiveSince,
			Values: vals, Error: r.Error,
		}
	}
	return t
}

// facts says what the reply's phase and ramp mean for HAProxy.
func facts(d *evaluator.Decision, now time.Time) []Fact {
	var fs []Fact
	switch d.Phase {
	case evaluator.Acting:
		fs = append(fs, Fact{"phase", "acting: the reply carries the admin word and the weight"})
	case evaluator.Restoring:
		v := "restoring: the reply repeats the admin word and the weight"
		if !d.QuietAt.IsZero() {
			v += ", then goes quiet in " + Ago(d.QuietAt.Sub(now))
		}
		fs = append(fs, Fact{"phase", v})
	case evaluator.Quiet:
		fs = append(fs, Fact{"phase", "quiet: the reply is the operational word alone, so what an operator sets in HAProxy stays"})
	}
	if r := d.Ramp; r != nil {
		fs = append(fs, Fact{"ramp", fmt.Sprintf("weight climbing from %d%% to %d%%, done in %s", r.From, r.To, Ago(r.Until.Sub(now)))})
	}
	return fs
}

// MaxNamedOverrides is how many of a decision's overrides Reason names;
// the others are counted.
const MaxNamedOverrides = 3

// Reason says in plain words what a decision does and why, e.g.
// "draining because queue_depth > 500 for 2m".
func Reason(d *evaluator.Decision, now time.Time) string {
	var b strings.Builder
	b.WriteString(stateWords(d))
	var causes []string
	for i, o := range d.Overrides {
		if i == MaxNamedOverrides {
			// A fleet's overrides for all servers apply to each: a
			// thousand named per server would be gigabytes of page.
			causes = append(causes, fmt.Sprintf("%d more operator overrides", len(d.Overrides)-i))
			break
		}
		c := fmt.Sprintf("operator override %q (%s", o.Reason, o.Action.String())
		if !o.Expires.IsZero() {
			c += ", ends in " + Ago(o.Expires.Sub(now))
		}
		causes = append(causes, c+")")
	}
	var pending, unknown []string
	for _, r := range d.Rules {
		text := r.Text()
		label := text.Expr
		if text.Name != text.Expr {
			label = text.Name + " (" + text.Expr + ")"
		}
		switch {
		case r.State == evaluator.Firing:
			c := label
			if !r.ActiveSince.IsZero() {
				c += " for " + Ago(now.Sub(r.ActiveSince))
			}
			if r.Outcome == evaluator.Unknown {
				c += ", kept firing while its data is missing"
			} else if r.Outcome == evaluator.False {
				c += ", held by keep_firing_for"
			}
			causes = append(causes, c)
		case r.State == evaluator.Pending:
			pending = append(pending, label+" for "+Ago(now.Sub(r.ActiveSince)))
		case r.Outcome == evaluator.Unknown:
			unknown = append(unknown, label)
		}
	}
	switch {
	case len(causes) == 0:
		b.WriteString(": no rule fires")
	case d.Held:
		// The rules want it out; the fleet's guardrail keeps it in.
		b.WriteString(", held by the guardrail, although ")
		b.WriteString(strings.Join(causes, "; "))
	default:
		b.WriteString(" because ")
		b.WriteString(strings.Join(causes, "; "))
	}
	if len(pending) > 0 {
		b.WriteString(". Pending: ")
		b.WriteString(strings.Join(pending, "; "))
	}
	if len(unknown) > 0 {
		b.WriteString(". Unknown (data missing, state kept): ")
		b.WriteString(strings.Join(unknown, "; "))
	}
	return b.String()
}

// stateWords names what the reply does to the server.
func stateWords(d *evaluator.Decision) string {
	var parts []string
	switch d.Op {
	case rules.Up, rules.NoOp:
	case rules.Fail:
		parts = append(parts, "failed")
	default:
		parts = append(parts, d.Op.String())
	}
	switch d.Admin {
	case rules.Drain:
		parts = append(parts, "draining")
	case rules.Maint:
		parts = append(parts, "in maintenance")
	}
	s := strings.Join(parts, " and ")
	if s == "" {
		s = "in rotation"
	}
	switch {
	case d.Absolute:
		s += fmt.Sprintf(" at weight %d", d.Weight)
	case d.Weight >= 0 && d.Weight != 100:
		s += fmt.Sprintf(" at weight %d%%", d.Weight)
	}
	return s
}

// Ago renders a duration for people: "45s", "2m", "1h5m", "3d".
func Ago(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}
