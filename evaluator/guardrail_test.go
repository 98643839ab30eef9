package evaluator

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/rules"
)

// utilFleet is a fleet of n static servers web01... whose one rule gives
// each a weight of 100*(1-util) once util > 0.5, with reply.min_weight
// minWeight.
func utilFleet(t testing.TB, n, minWeight int, limit rules.Limit) *rules.File {
	b := newBuilder(t, "util")
	b.rule("default", rules.Rule{Name: "shed", Expr: "util > 0.5", WeightExpr: "100 * (1 - util)"})
	b.file.Reply.MinWeight = minWeight
	fl := &rules.Fleet{Label: "server", MaxUnavailable: limit}
	for i := 1; i <= n; i++ {
		fl.Static = append(fl.Static, fmt.Sprintf("web%02d", i))
	}
	b.file.Fleet = fl
	return b.file
}

func utils(servers []string, v float64) Snapshot {
	u := make(map[string]float64, len(servers))
	for _, s := range servers {
		u[s] = v
	}
	return Snapshot{"util": {Value: math.NaN(), Servers: u}}
}

// TestFleetZeroWeightIsOut: with reply.min_weight 0% and every server's
// computed weight 0, a 0% weight takes a server out as a drain does: the
// guardrail lets max_unavailable of them go to 0% and holds the others at
// a weight above 0, so that the backend keeps serving.
func TestFleetZeroWeightIsOut(t *testing.T) {
	f := utilFleet(t, 4, 0, rules.Limit{Set: true, N: 25, Percent: true})
	e := New(f)
	res := e.Evaluate(t0, utils(f.Fleet.Static, 1), nil)
	zero := 0
	for _, d := range res.Servers {
		switch {
		case d.Weight == 0:
			zero++
			if !d.Out() || d.Held {
				t.Errorf("%s at 0%%: out=%v held=%v, want out", d.Server, d.Out(), d.Held)
			}
		case d.Held:
			if d.Weight != 1 || d.Out() || !strings.HasPrefix(d.Reply, "up ready 1% #held by guardrail") {
				t.Errorf("%s held: %q, want up ready 1%%", d.Server, d.Reply)
			}
		default:
			t.Errorf("%s neither out nor held: %q", d.Server, d.Reply)
		}
	}
	if g := res.Guardrail; zero != 1 || g.Out != 1 || len(g.Held) != 3 {
		t.Errorf("%d servers at 0%%, guardrail %+v; want 1 out and 3 held", zero, g)
	}

	// With a min_weight above 0 a computed 0 floors there: nothing is out
	// and nothing held.
	f = utilFleet(t, 4, 5, rules.Limit{Set: true, N: 1})
	res = New(f).Evaluate(t0, utils(f.Fleet.Static, 1), nil)
	for _, d := range res.Servers {
		if d.Weight != 5 || d.Out() || d.Held {
			t.Errorf("min_weight 5%%: %s %q, want up ready 5%%", d.Server, d.Reply)
		}
	}
}

// TestRampStartsAboveZero: a server back from a drain with reply.min_weight
// 0% climbs from 1%, not from 0%, which would take it out again.
func TestRampStartsAboveZero(t *testing.T) {
	b := newBuilder(t, "queue")
	b.rule("default", rules.Rule{Expr: "queue > 500", Action: act("", "drain", rules.Unset, rules.Unset)})
	b.file.Reply.MinWeight = 0
	b.file.Reply.Ramp = 10 * time.Second
	e := New(b.file)
	e.Evaluate(t0, snap("queue", 900), nil)
	d := e.Evaluate(t0.Add(time.Second), snap("queue", 1), nil).Services[0]
	if d.Weight != 1 || d.Out() {
		t.Errorf("first ramp step: %q, want up ready 1%%", d.Reply)
	}
}
