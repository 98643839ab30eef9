package evaluator

import (
	"fmt"
	"math"
	"testing"

	"github.com/haproxy-agent/agent/rules"
)

// BenchmarkEvaluateFleet measures one cycle of a 1,000-server fleet with 10
// rules over 10 metrics, each metric a vector by server, in steady state
// (values change every cycle; a few servers want out and the guardrail
// holds some).
func BenchmarkEvaluateFleet(b *testing.B) {
	const servers, nrules, nmetrics = 1000, 10, 10
	names := make([]string, nmetrics)
	for i := range names {
		names[i] = fmt.Sprintf("m%d", i)
	}
	bl := newBuilder(b, names...)
	for i := range nrules {
		a := act("", "", 50+i, rules.Unset)
		if i == 0 {
			a = act("", "drain", rules.Unset, rules.Unset)
		}
		bl.rule("default", rules.Rule{
			Name:   fmt.Sprintf("r%d", i),
			Expr:   fmt.Sprintf("m%d > %d && m%d < 1e9", i%nmetrics, 990, (i+1)%nmetrics),
			Action: a,
		})
	}
	fl := &rules.Fleet{Label: "server", MaxUnavailable: rules.Limit{Set: true, N: 1, Percent: true}}
	for i := range servers {
		fl.Static = append(fl.Static, fmt.Sprintf("web%04d", i))
	}
	bl.file.Fleet = fl
	e := New(bl.file)
	// Two snapshots, alternated: every value changes every cycle; 1% of
	// the servers are above the thresholds in each.
	snaps := make([]Snapshot, 2)
	for k := range snaps {
		snaps[k] = Snapshot{}
		for j, name := range names {
			vals := make(map[string]float64, servers)
			for i, s := range fl.Static {
				vals[s] = float64((i*7+j*13+k*29)%1000) + 0.5*float64(k)
			}
			snaps[k][name] = Sample{Value: math.NaN(), Servers: vals}
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		res := e.Evaluate(t0, snaps[i%2], nil)
		if len(res.Servers) != servers {
			b.Fatal(len(res.Servers))
		}
	}
}
