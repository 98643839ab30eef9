package evaluator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/rules"
)

// TestFleetParallelSameAsOne evaluates one fleet on one goroutine and on
// several side by side, through discovery churn, values flapping across
// the thresholds or missing, overrides for all and for some servers, the
// guardrail holding and polls arriving in between: every result must be
// the same document, byte for byte. With -race it also checks that the
// servers evaluated at once share nothing they write.
func TestFleetParallelSameAsOne(t *testing.T) {
	const known, listed, cycles = 400, 340, 30
	b := newBuilder(t, "queue", "util", "region")
	b.rule("default", rules.Rule{Name: "deep", Expr: "queue > 500", For: 2 * time.Second, Action: act("", "drain", rules.Unset, rules.Unset)})
	b.rule("default", rules.Rule{Name: "busy", Expr: "util > 0.5", WeightExpr: "100 * (1 - util)", Action: act("", "", rules.Unset, rules.Unset)})
	b.rule("default", rules.Rule{Name: "far", Expr: "region > 2 && queue > 100", Action: act("", "", rules.Unset, 20)})
	b.rule("default", rules.Rule{Name: "dead", Expr: "queue > 990", OnMissing: rules.Keep, Action: act("down", "", rules.Unset, rules.Unset)})
	fl := &rules.Fleet{Label: "server", MaxUnavailable: rules.Limit{Set: true, N: 5, Percent: true}}
	all := make([]string, known)
	for i := range all {
		all[i] = fmt.Sprintf("web%04d", i)
	}
	b.file.Fleet = fl
	one, many := New(b.file), New(b.file)
	one.procs, many.procs = 1, 4
	one.AwaitPolls()
	many.AwaitPolls()
	rng := rand.New(rand.NewPCG(19, 7))
	var held, out, stale int
	for c := range cycles {
		now := t0.Add(time.Duration(c) * time.Second)
		n := listed
		if c%3 == 0 {
			n = known / 3 // vectors over twice as long as the list
		}
		servers := make([]string, 0, n)
		for _, i := range rng.Perm(known)[:n] {
			servers = append(servers, all[i])
		}
		servers = append(servers, servers[:3]...) // listed twice
		queue, util := map[string]float64{}, map[string]float64{}
		missing := map[string]string{}
		for _, s := range all {
			switch r := rng.IntN(100); {
			case r < 3: // not in the vector
			case r < 5:
				queue[s] = math.NaN()
			case r < 7:
				missing[s] = "scrape failed"
			default:
				queue[s] = float64(rng.IntN(1100))
			}
			util[s] = rng.Float64()
		}
		snap := Snapshot{
			"queue":  {Value: math.NaN(), Servers: queue, ServerMissing: missing},
			"util":   {Value: math.NaN(), Servers: util},
			"region": {Value: float64(rng.IntN(5))},
		}
		var ovs []Override
		if c%10 < 5 {
			ovs = append(ovs, Override{ID: "all", Action: act("", "", 80, rules.Unset), Reason: "all at 80", Created: t0})
		}
		for k := range 5 {
			ovs = append(ovs, Override{ID: fmt.Sprint(k), Service: all[rng.IntN(known)], Action: act("", "maint", rules.Unset, rules.Unset),
				Reason: "by hand", Created: t0, Expires: now.Add(time.Duration(k) * time.Second)})
		}
		res := one.EvaluateServers(now, servers, snap, ovs)
		a, bb := dump(res), dump(many.EvaluateServers(now, servers, snap, ovs))
		if a != bb {
			t.Fatalf("cycle %d: results differ:\none goroutine: %.2000s\nseveral:       %.2000s", c, a, bb)
		}
		held, out = held+len(res.Guardrail.Held), out+res.Guardrail.Out
		for _, d := range res.Servers {
			if d.Stale {
				stale++
			}
		}
		for _, i := range rng.Perm(known)[:known/2] {
			one.Polled(now.Add(500*time.Millisecond), all[i])
			many.Polled(now.Add(500*time.Millisecond), all[i])
		}
	}
	// The cycles must have exercised what they are for.
	if held == 0 || out == 0 || stale == 0 {
		t.Errorf("over %d cycles: %d held, %d out, %d stale; want some of each", cycles, held, out, stale)
	}
	t.Logf("over %d cycles: %d held, %d out, %d stale", cycles, held, out, stale)
}

// TestParallelPanicReachesCaller checks that a panic in one of the
// goroutines evaluating a fleet is raised again in the caller, with what
// it carried and where it happened, once every goroutine has returned.
func TestParallelPanicReachesCaller(t *testing.T) {
	e := &Evaluator{procs: 4}
	var done atomic.Int64
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || !strings.Contains(err.Error(), "boom at 300") || !strings.Contains(err.Error(), "TestParallelPanicReachesCaller") {
			t.Fatalf("recovered %v, want the worker's panic with its stack", r)
		}
		// Every other run was still done: no goroutine was left behind.
		if got := done.Load(); got != 999-100 {
			t.Errorf("%d servers done, want %d", got, 999-100)
		}
	}()
	e.parallelBy(999, 10, func(_ *worker, lo, hi int) {
		if lo == 300 {
			panic(fmt.Sprintf("boom at %d", lo))
		}
		done.Add(int64(hi - lo))
	})
	t.Fatal("parallelBy returned")
}
