package evaluator

import (
	"testing"
	"time"

	"github.com/haproxy-agent/agent/rules"
)

func abs(admin rules.Admin, weight int) rules.Action {
	return rules.Action{Admin: admin, Weight: weight, Absolute: true, Maxconn: rules.Unset}
}

// TestAbsoluteWeight: "weight N" sends weight:N. Absolute weights and
// percents are separate kinds, each combined by its minimum; when both
// fire, the absolute weight is sent. min_weight (a percent) does not floor
// it, and an override's weight of either kind replaces the rules'.
func TestAbsoluteWeight(t *testing.T) {
	b := newBuilder(t, "x")
	b.file.Reply.MinWeight = 10
	b.rule("default", rules.Rule{Name: "p30", Expr: "x >= 1", Action: act("", "", 30, rules.Unset)})
	b.rule("default", rules.Rule{Name: "a50", Expr: "x >= 2", Action: abs(rules.NoAdmin, 50)})
	b.rule("default", rules.Rule{Name: "a5", Expr: "x >= 3", Action: abs(rules.Drain, 5)})
	e := New(b.file)
	for i, tc := range []struct {
		x    float64
		ovs  []Override
		want string
	}{
		{0, nil, "up ready 100%\n"},
		{1, nil, "up ready 30% #p30\n"},
		{2, nil, "up ready weight:50 #p30; a50\n"},
		{3, nil, "up drain weight:5 #p30; a50; a5\n"},
		{2, []Override{{ID: "1", Action: act("", "", 70, rules.Unset), Reason: "pct"}}, "up ready 70% #override: pct\n"},
		{1, []Override{{ID: "1", Action: abs(rules.NoAdmin, 200), Reason: "abs"}}, "up ready weight:200 #override: abs\n"},
		// Back to nothing: the restore window sends 100%, the server
		// line's own weight.
		{0, nil, "up ready 100%\n"},
	} {
		d := e.Evaluate(t0.Add(time.Duration(i)*time.Second), snap("x", tc.x), tc.ovs).Service("")
		if d.Reply != tc.want {
			t.Errorf("x=%v overrides=%v: reply = %q, want %q", tc.x, tc.ovs, d.Reply, tc.want)
		}
		if tc.x >= 2 && tc.ovs == nil && (!d.Absolute || d.Phase != Acting) {
			t.Errorf("x=%v: Absolute=%v phase=%v, want an acting absolute weight", tc.x, d.Absolute, d.Phase)
		}
	}
}
