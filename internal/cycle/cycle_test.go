package cycle

import (
	"testing"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/collect"
)

func TestSnapshotReused(t *testing.T) {
	step := &collect.Result{Metrics: []collect.MetricValue{
		{Name: "a", Value: 1},
		{Name: "b", Missing: "timeout"},
		{Name: "c", ByServer: map[string]float64{"web1": 2}, ServerMissing: map[string]string{"web2": "no sample"}},
	}}
	snap := Snapshot(step, nil)
	if len(snap) != 3 || snap["a"].Value != 1 || snap["b"].Missing != "timeout" || snap["c"].Servers["web1"] != 2 || snap["c"].ServerMissing["web2"] != "no sample" {
		t.Fatalf("snapshot %+v", snap)
	}
	// The next step's snapshot reuses the map: nothing of the last stays.
	next := Snapshot(&collect.Result{Metrics: []collect.MetricValue{{Name: "a", Value: 5}}}, snap)
	if len(next) != 1 || next["a"].Value != 5 {
		t.Errorf("reused snapshot %+v", next)
	}
	if got := Snapshot(nil, evaluator.Snapshot{"x": {}}); len(got) != 0 {
		t.Errorf("a nil step gives %+v", got)
	}
}
