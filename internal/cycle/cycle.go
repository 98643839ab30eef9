// Package cycle is the evaluation cycle every command runs, written once:
// the values of one step, a collect.Result (read from the live sources by
// serve and eval, from a test file's series by test, from history by
// backtest), become the evaluator's snapshot, and the rules are evaluated
// over it at the step's time for the fleet's servers.
package cycle

import (
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/collect"
)

// Sample is what the evaluator sees of one metric's value in a step.
func Sample(m *collect.MetricValue) evaluator.Sample {
	return evaluator.Sample{Value: m.Value, Missing: m.Missing, Servers: m.ByServer, ServerMissing: m.ServerMissing}
}

// Snapshot is the evaluator's view of a step: each metric's value or why
// it is missing. into, when not nil, is cleared and filled rather than a
// new map made; a nil step gives an empty snapshot.
func Snapshot(step *collect.Result, into evaluator.Snapshot) evaluator.Snapshot {
	if into == nil {
		n := 0
		if step != nil {
			n = len(step.Metrics)
		}
		into = make(evaluator.Snapshot, n)
	} else {
		clear(into)
	}
	if step == nil {
		return into
	}
	for i := range step.Metrics {
		m := &step.Metrics[i]
		into[m.Name] = Sample(m)
	}
	return into
}

// Run evaluates e over step at now, for servers in fleet mode, with the
// overrides in force: one cycle.
func Run(e *evaluator.Evaluator, now time.Time, step *collect.Result, servers []string, overrides []evaluator.Override) *evaluator.Result {
	return e.EvaluateServers(now, servers, Snapshot(step, nil), overrides)
}

// Replay runs cycles step after step over one evaluator, as test and
// backtest do, reusing one snapshot: a replay of millions of steps makes
// it once. It is used from one goroutine.
type Replay struct {
	Eval *evaluator.Evaluator
	snap evaluator.Snapshot
}

// Run evaluates r.Eval over step at now for servers, as Run does.
func (r *Replay) Run(now time.Time, step *collect.Result, servers []string) *evaluator.Result {
	r.snap = Snapshot(step, r.snap)
	return r.Eval.EvaluateServers(now, servers, r.snap, nil)
}

// Snapshot is the snapshot the last Run evaluated, valid until the next.
func (r *Replay) Snapshot() evaluator.Snapshot { return r.snap }
