package evaluator

import (
	"fmt"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/rules"
)

// BenchmarkEvaluateFleet measures one cycle of a 1,000-server fleet with 10
// rules over 10 metrics, each metric a vector by server, in steady state
// (values change every cycle; a few servers want out and the guardrail
// holds some).
func BenchmarkEvaluateFleet(b *testing.B) {
	const servers = 1000
	e, snaps := fleetOf(b, servers)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		res := e.Evaluate(t0, snaps[i%2], nil)
		if len(res.Servers) != servers {
			b.Fatal(len(res.Servers))
		}
	}
}

// BenchmarkEvaluateFleetLimits measures one cycle of a fleet at its limits:
// 10,000 servers × 10 rules over 10 metrics, each a vector by server, with
// 1,000 overrides for every server in force (the most allowed), and the
// same with 1,000 servers as the baseline of the same run. Overrides for
// every server are combined once per cycle, not once per server, so the
// 10,000-server cycle costs about 10 times the 1,000-server one.
//
// Beside the wall time per cycle (ns/op: the servers are evaluated on every
// core) it reports the process's CPU time per cycle (cpu-ms/op: the work,
// the collector's included), which a loaded shared machine inflates less.
func BenchmarkEvaluateFleetLimits(b *testing.B) {
	for _, servers := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("servers=%d/overrides=1000", servers), func(b *testing.B) {
			e, snaps := fleetOf(b, servers)
			ovs := make([]Override, 1000)
			for i := range ovs {
				ovs[i] = Override{ID: fmt.Sprintf("%08x", i), Action: act("", "", 50+i%50, rules.Unset),
					Reason: fmt.Sprintf("override %d", i), Created: t0}
			}
			b.ReportAllocs()
			cpu := cpuTime(b)
			for i := 0; b.Loop(); i++ {
				res := e.Evaluate(t0.Add(time.Duration(i)*time.Second), snaps[i%2], ovs)
				if len(res.Servers) != servers {
					b.Fatal(len(res.Servers))
				}
			}
			b.ReportMetric(float64(cpuTime(b)-cpu)/1e6/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fleetOf is a fleet of n servers, 10 rules over 10 metrics each a vector
// by server, and two snapshots to alternate: every value changes every
// cycle; 1% of the servers are above the thresholds in each.
func fleetOf(b *testing.B, servers int) (*Evaluator, []Snapshot) {
	const nrules, nmetrics = 10, 10
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
		fl.Static = append(fl.Static, fmt.Sprintf("web%05d", i))
	}
	bl.file.Fleet = fl
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
	return New(bl.file), snaps
}
