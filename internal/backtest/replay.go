package backtest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/collect"
	"github.com/haproxy-agent/agent/internal/cycle"
)

// Run is what one rule file did over a range.
type Run struct {
	RulesFile string `json:"rules_file"`
	// Services holds one entry per service, in file order; empty in
	// fleet mode.
	Services []*Target `json:"services"`
	// Servers holds, in fleet mode, one entry per server known at some
	// step, sorted by name.
	Servers []*Target `json:"servers,omitempty"`
	// NoData names the metrics whose query returned no series over the
	// whole range: missing at every step, which is most likely a typo
	// in a query or a label.
	NoData []string `json:"no_data,omitempty"`
	rng    Range
	// read counts the metrics read from history (not fixed); discovery
	// is the fleet's discovery query, "" without one.
	read      int
	discovery string
}

// Targets are the services, or in fleet mode the servers.
func (r *Run) Targets() []*Target {
	if r.Servers != nil {
		return r.Servers
	}
	return r.Services
}

// Target returns the service or server of that name, or nil.
func (r *Run) Target(name string) *Target {
	for _, t := range r.Targets() {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Replayer reads a plan's inputs at each step of a fetcher's range as a
// collection cycle would have read them then: each step's samples become
// readings as an instant query's would (source.Reading), a Holder keeps
// last good values until stale_after across gaps, and a discovered
// fleet's servers are what discovery would have listed. Replay evaluates
// what it reads; a test can drive evaluators of its own with it.
type Replayer struct {
	p    *Plan
	rng  Range
	hold *collect.Holder
	// step holds the values of the step being read; snap is the
	// evaluator's snapshot of it (cycle.Snapshot), both reused.
	step *collect.Result
	snap evaluator.Snapshot
}

// NewReplayer binds the plan's inputs to what the fetcher read.
func NewReplayer(p *Plan, fe *Fetcher) (*Replayer, error) {
	for i := range p.inputs {
		if err := p.inputs[i].bind(fe); err != nil {
			return nil, err
		}
	}
	if p.discovery != nil {
		if err := p.discovery.bind(fe); err != nil {
			return nil, err
		}
	}
	f := p.File
	return &Replayer{p: p, rng: fe.Range, hold: collect.NewHolder(f.StaleAfter),
		step: &collect.Result{Metrics: make([]collect.MetricValue, len(f.Metrics))}, snap: make(evaluator.Snapshot, len(f.Metrics))}, nil
}

// Steps is the number of steps in the range.
func (r *Replayer) Steps() int { return r.rng.Steps() }

// Step reads step k, in order from 0: its time, the fleet's servers (the
// static list, or what discovery listed; nil outside fleet mode) and the
// metrics' values. The snapshot is reused by the next step.
func (r *Replayer) Step(k int) (now time.Time, servers []string, snap evaluator.Snapshot) {
	f := r.p.File
	now = r.rng.At(k)
	for i := range f.Metrics {
		r.step.Metrics[i] = r.p.inputs[i].observe(r.hold, k, now)
	}
	r.snap = cycle.Snapshot(r.step, r.snap)
	if f.Fleet != nil {
		servers = f.Fleet.Static
		if r.p.discovery != nil {
			d := r.p.discovery.observe(r.hold, k, now)
			servers = collect.Discovered(&d)
		}
	}
	return now, servers, r.snap
}

// Replay evaluates the plan's rule file at every step of the fetcher's
// range over what it read, as `agent serve` would have evaluated it then
// (see Replayer), one Evaluator carrying rule and reply state from step to
// step. The run starts as a freshly started agent: every rule inactive.
// HAProxy is taken to poll every server right after each evaluation.
// progress, when set, is told how many steps are done every so often.
// A cancelled ctx stops the replay within a few thousand steps; it then
// returns ctx's error and no run.
func Replay(ctx context.Context, p *Plan, fe *Fetcher, progress func(done, total int)) (*Run, error) {
	f := p.File
	rp, err := NewReplayer(p, fe)
	if err != nil {
		return nil, err
	}
	n := rp.Steps()
	ev := evaluator.New(f)
	rec := newRecorder(f, n, fe.Range)
	for k := range n {
		now, servers, snap := rp.Step(k)
		rec.add(k, now, ev.EvaluateServers(now, servers, snap, nil))
		if k%4096 == 4095 || k == n-1 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if progress != nil {
				progress(k+1, n)
			}
		}
	}
	run := rec.finish()
	run.RulesFile = f.Path
	for i, m := range f.Metrics {
		in := &p.inputs[i]
		if in.fixed {
			continue
		}
		run.read++
		if in.hist.Series() == 0 {
			run.NoData = append(run.NoData, m.Name)
		}
	}
	if p.discovery != nil {
		run.discovery = p.discovery.query.Expr
	}
	return run, nil
}

// ReadNothing returns an error naming what had no data when the run stands
// on nothing: every metric read from history returned no series over the
// whole range, or a discovered fleet's query named no server at any step.
// Its report would show services or servers quietly in rotation, which
// the history never said.
func (r *Run) ReadNothing() error {
	from, to := r.rng.Start.Format(time.RFC3339), r.rng.End.Format(time.RFC3339)
	switch {
	case r.read > 0 && len(r.NoData) == r.read:
		return fmt.Errorf("no data at all from %s to %s: the queries returned no series for %s at any step (check the queries, their labels and the range)",
			from, to, strings.Join(r.NoData, ", "))
	case r.discovery != "" && len(r.Servers) == 0:
		return fmt.Errorf("no server known at any step from %s to %s: the fleet's discovery query %q named none (check fleet.servers: its query and label)",
			from, to, r.discovery)
	}
	return nil
}
