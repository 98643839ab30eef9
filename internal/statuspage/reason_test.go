package statuspage

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/rules"
)

func TestReason(t *testing.T) {
	now := t0
	rule := func(name, expr string, out evaluator.Outcome, st evaluator.State, since time.Duration) evaluator.RuleResult {
		r := evaluator.RuleResult{RuleText: &evaluator.RuleText{Name: name, Expr: expr}, Outcome: out, State: st, Weight: rules.Unset}
		if since > 0 {
			r.ActiveSince = now.Add(-since)
		}
		return r
	}
	for _, tc := range []struct {
		name string
		d    evaluator.Decision
		want string
	}{{
		name: "ready",
		d:    evaluator.Decision{Op: rules.Up, Admin: rules.Ready, Weight: 100, Rules: []evaluator.RuleResult{rule("q", "q > 1", evaluator.False, evaluator.Inactive, 0)}},
		want: "in rotation: no rule fires",
	}, {
		name: "drain for 2m",
		d: evaluator.Decision{Op: rules.Up, Admin: rules.Drain, Weight: 100, Rules: []evaluator.RuleResult{
			rule("queue_depth > 500", "queue_depth > 500", evaluator.True, evaluator.Firing, 2*time.Minute+10*time.Second)}},
		want: "draining because queue_depth > 500 for 2m",
	}, {
		name: "named rule, weight, pending and unknown",
		d: evaluator.Decision{Op: rules.Up, Admin: rules.Ready, Weight: 50, Rules: []evaluator.RuleResult{
			rule("hot", "cpu > 0.9", evaluator.True, evaluator.Firing, 45*time.Second),
			rule("deep", "queue_depth > 500", evaluator.True, evaluator.Pending, 10*time.Second),
			rule("p99", "p99 > 2", evaluator.Unknown, evaluator.Inactive, 0)}},
		want: "in rotation at weight 50% because hot (cpu > 0.9) for 45s. Pending: deep (queue_depth > 500) for 10s. Unknown (data missing, state kept): p99 (p99 > 2)",
	}, {
		name: "held in by the guardrail",
		d: evaluator.Decision{Op: rules.Up, Admin: rules.Ready, Weight: 100, Held: true, Rules: []evaluator.RuleResult{
			rule("queue > 500", "queue > 500", evaluator.True, evaluator.Firing, 22*time.Second)}},
		want: "in rotation, held by the guardrail, although queue > 500 for 22s",
	}, {
		name: "down and maint by override",
		d: evaluator.Decision{Op: rules.Down, Admin: rules.Maint, Weight: 100, Overrides: []evaluator.Override{{
			Reason: "disk swap", Action: rules.Action{Op: rules.Down, Admin: rules.Maint, Weight: rules.Unset, Maxconn: rules.Unset}, Expires: now.Add(90 * time.Minute)}}},
		want: `down and in maintenance because operator override "disk swap" (down, maint, ends in 1h30m)`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Reason(&tc.d, now); got != tc.want {
				t.Errorf("Reason =\n  %s\nwant\n  %s", got, tc.want)
			}
		})
	}
}

func TestFacts(t *testing.T) {
	d := &evaluator.Decision{Service: "web", Op: rules.Up, Admin: rules.Ready, Weight: 40, Reply: "up ready 40%\n",
		Phase: evaluator.Restoring, QuietAt: t0.Add(25 * time.Second),
		Ramp: &evaluator.Ramp{From: 1, To: 100, Since: t0.Add(-time.Minute), Until: t0.Add(90 * time.Second)}}
	tg := FromDecision("service", d, t0)
	want := []Fact{
		{"phase", "restoring: the reply repeats the admin word and the weight, then goes quiet in 25s"},
		{"ramp", "weight climbing from 1% to 100%, done in 1m"},
	}
	if len(tg.Facts) != len(want) || tg.Facts[0] != want[0] || tg.Facts[1] != want[1] {
		t.Errorf("facts = %q, want %q", tg.Facts, want)
	}
	if tg.Reply != "up ready 40%" || tg.Out || tg.WeightKey != WeightKey("service", "web") {
		t.Errorf("target = %+v", tg)
	}
}

// TestReasonNamesFewOverrides gives a decision the 1,000 overrides a fleet
// server may share with every other: the reason names a few and counts the
// rest, rather than growing with them on each server of the page.
func TestReasonNamesFewOverrides(t *testing.T) {
	d := &evaluator.Decision{Op: rules.Up, Admin: rules.Ready, Weight: 50}
	for i := range 1000 {
		d.Overrides = append(d.Overrides, evaluator.Override{ID: fmt.Sprint(i), Reason: fmt.Sprintf("reason %d", i), Action: rules.Action{Weight: 50, Maxconn: rules.Unset}})
	}
	got := Reason(d, time.Now())
	if !strings.Contains(got, `"reason 2"`) || strings.Contains(got, `"reason 3"`) || !strings.Contains(got, "997 more operator overrides") {
		t.Errorf("reason with 1,000 overrides: %q, want the first %d named and the rest counted", got, MaxNamedOverrides)
	}
}
