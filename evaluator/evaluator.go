// Package evaluator turns a snapshot of metric values into one HAProxy agent
// reply per service, keeping each rule's state (pending, firing) from one
// evaluation to the next.
//
// It is pure: no I/O, no clock of its own (the caller passes the time). An
// Evaluator is owned by one goroutine; its Results are immutable once
// returned and may be shared. A large fleet's servers are evaluated by a few
// goroutines at once (one per processor at most), all done before Evaluate
// returns.
package evaluator

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/haproxy-agent/agent/rules/ruleset"
)

// Evaluator evaluates the rules of one rule file over time.
type Evaluator struct {
	file *ruleset.File
	// states[s][r] is the state of rule r of service s.
	states [][]ruleState
	// replies[s] is the reply state of service s.
	replies []replyState
	// env is the expression environment outside fleet mode: every
	// declared metric by name (a fleet server has its own).
	env map[string]any
	// last holds the values currently boxed in env, to skip re-boxing.
	last    []float64
	missing []string
	// actions[s][r] is rule r's action as text, made once per file.
	actions [][]string
	// run[s][r] says that rule r of service s reads consecutive metrics
	// (most read one): its values are then a run of the service's values
	// of every metric, shared, rather than a copy of its own.
	run [][]bool
	// machine runs the expressions outside fleet mode; workers, one per
	// goroutine, run a fleet's.
	machine vm.VM
	workers []*worker
	// procs is how many goroutines may evaluate a fleet at once; 0 is
	// GOMAXPROCS.
	procs    int
	valueCap int

	// fleet holds, in fleet mode, every known server's state by name.
	fleet map[string]*fleetServer
	// table is the vector values of the evaluation under way, its
	// storage kept from one to the next; listedSet is admit's, kept too.
	table     vectorTable
	listedSet map[string]struct{}
	// outside are the servers HAProxy shows out for other causes
	// (SetOutside), for fleet.guardrail_counts: all.
	outside map[string]bool
	gen     uint64
	// admitted is the last list of servers admitted under the fleet's
	// limit, at admittedAt (see admit).
	admitted   []string
	admittedAt time.Time
	// told is, in fleet mode, the replies last sent before a restart, by
	// server (see Resume).
	told map[string]string
	// toldOut is, in fleet mode, why HAProxy may have held each server
	// out before a restart (see Resume).
	toldOut map[string]string
	// await: a fleet server is back in rotation only once Polled says
	// HAProxy was told so (see AwaitPolls).
	await bool
	// noSample[i] is why metric i is missing for a server its vector
	// result does not name.
	noSample []string
	// gate, when set, narrows which servers the guardrail may let out.
	gate Gate
}

// Gate narrows which fleet servers the guardrail may let out of rotation
// because of their rules, beyond max_unavailable: replicas sharing a fleet
// let out only the servers one leader allows. Overrides are not gated.
type Gate interface {
	// May reports whether the rules may take (or keep) server out.
	May(server string) bool
	// Reserved names the servers other replicas may hold out now (the
	// group's out-set): each takes a place under max_unavailable even
	// where this evaluation lets it in, until a set without it has been
	// read by every replica.
	Reserved() []string
}

// SetGate makes the guardrail consult g from the next evaluation on; nil
// removes the gate.
func (e *Evaluator) SetGate(g Gate) { e.gate = g }

// ruleState is where one rule stands in the pending → firing → resolved cycle.
type ruleState struct {
	state State
	// activeAt is when the condition was first seen true in this episode.
	activeAt time.Time
	// keepSince is when a firing rule's condition was first seen false
	// again; zero while it holds.
	keepSince time.Time
	// weight is the last weight a `weight:` expression computed.
	weight int
}

// New returns an Evaluator for f with every rule inactive.
func New(f *ruleset.File) *Evaluator {
	e := &Evaluator{
		file:    f,
		states:  make([][]ruleState, len(f.Services)),
		replies: make([]replyState, len(f.Services)),
		actions: make([][]string, len(f.Services)),
		run:     make([][]bool, len(f.Services)),
		env:     make(map[string]any, len(f.Metrics)),
		last:    make([]float64, len(f.Metrics)),
		missing: make([]string, len(f.Metrics)),
	}
	for i, s := range f.Services {
		e.replies[i] = newReplyState()
		e.states[i] = make([]ruleState, len(s.Rules))
		e.actions[i] = make([]string, len(s.Rules))
		e.run[i] = make([]bool, len(s.Rules))
		shared := false
		for j, r := range s.Rules {
			e.states[i][j] = ruleState{state: Inactive, weight: ruleset.Unset}
			e.actions[i][j] = r.Action.String()
			if r.Weight != nil {
				e.actions[i][j] = joinAction(e.actions[i][j], "weight "+r.WeightExpr)
			}
			if e.run[i][j] = consecutive(r.Needs); e.run[i][j] {
				shared = true
			} else {
				e.valueCap += len(r.Needs)
			}
		}
		if shared {
			e.valueCap += len(f.Metrics)
		}
	}
	for i, m := range f.Metrics {
		e.env[m.Name] = math.NaN()
		e.last[i] = math.NaN()
	}
	if f.Fleet != nil {
		e.noSample = make([]string, len(f.Metrics))
		for i := range f.Metrics {
			e.noSample[i] = "no sample with " + f.Fleet.Label + " set to this server"
		}
	}
	return e
}

// File returns the rule file the Evaluator evaluates.
func (e *Evaluator) File() *ruleset.File { return e.file }

// Reload returns an Evaluator for f that keeps the state of every rule whose
// service, name and expressions are unchanged (other rules start inactive)
// and the reply state (phase, restore windows, ramp) of every service that
// is still there. e itself is left as it was, so a caller can still discard
// the result.
func (e *Evaluator) Reload(f *ruleset.File) *Evaluator {
	n := New(f)
	for i, s := range f.Services {
		for j, old := range e.file.Services {
			if old.Name == s.Name {
				n.replies[i] = e.replies[j]
			}
		}
	}
	type key struct{ service, name, when, weight string }
	old := make(map[key]ruleState)
	for i, s := range e.file.Services {
		for j, r := range s.Rules {
			old[key{s.Name, r.Name, r.Expr, r.WeightExpr}] = e.states[i][j]
		}
	}
	for i, s := range f.Services {
		for j, r := range s.Rules {
			if st, ok := old[key{s.Name, r.Name, r.Expr, r.WeightExpr}]; ok {
				n.states[i][j] = st
			}
		}
	}
	n.await = e.await
	e.carryFleet(n)
	return n
}

// Resume tells a new Evaluator what the agent last told HAProxy for each
// service (the reply lines, by service name) before it restarted. A
// service whose last reply was the operational word alone gets no
// start-up restore: HAProxy holds nothing of the agent's, and what an
// operator set since stays. Call it before the first Evaluate.
//
// In fleet mode told is by server name, and outBy says which servers
// HAProxy may have held out of rotation, and why (OutByRules,
// OutByOverride; see Decision.OutBy). Each of them is out again from the
// first evaluation: one out by its rules keeps its place while they still
// want it out, their for: window included; one no longer discovered is
// answered its restore. A server out by its line but missing from outBy
// (a state file written before reasons were kept) is taken as out by its
// rules.
func (e *Evaluator) Resume(told, outBy map[string]string) {
	if e.file.Fleet != nil {
		e.told, e.toldOut = told, outBy
		return
	}
	for i, s := range e.file.Services {
		if line, ok := told[s.Name]; ok {
			e.replies[i].resume(line)
		}
	}
}

// Evaluate runs every rule of every service once at time now over snap, with
// the operator overrides in force, and returns the decisions. Rules whose
// metrics are missing follow their on_missing policy.
//
// For a fleet file, Evaluate is EvaluateServers with the static servers.
func (e *Evaluator) Evaluate(now time.Time, snap Snapshot, overrides []Override) *Result {
	return e.EvaluateServers(now, nil, snap, overrides)
}

// EvaluateServers is Evaluate for a fleet file: the top-level rules run
// once per server in servers (nil: the file's static servers), each server
// with its own values and its own rule state, then the guardrail limits
// how many the rules take out of rotation. A server no longer in servers
// keeps its last decision until stale_after, then is forgotten. Outside
// fleet mode servers is ignored.
func (e *Evaluator) EvaluateServers(now time.Time, servers []string, snap Snapshot, overrides []Override) *Result {
	e.load(snap)
	defWeight := e.file.Reply.Default.Weight
	if e.file.Fleet != nil {
		if servers == nil {
			servers = e.file.Fleet.Static
		}
		return e.evaluateFleet(now, servers, snap, newOverrideSet(now, overrides, e.file.Services[0].Name, defWeight))
	}
	set := newOverrideSet(now, overrides, "", defWeight)
	res := &Result{Time: now, Services: make([]*Decision, len(e.file.Services))}
	values := make([]Value, 0, e.valueCap)
	for i, svc := range e.file.Services {
		d := &Decision{Service: svc.Name, Rules: make([]RuleResult, len(svc.Rules))}
		values = e.evalService(now, i, e.states[i], d, values, e.last, e.missing, &e.machine, e.env)
		e.decide(now, svc, d, set, &e.replies[i], svc.Name, "")
		res.Services[i] = d
	}
	return res
}

// evalService runs the rules of service i over the values last and
// missing (by metric index) with the rule states states, filling d.Rules,
// on machine m in the expression environment env (last, boxed). The values
// each rule read are appended to values, which is returned.
func (e *Evaluator) evalService(now time.Time, i int, states []ruleState, d *Decision, values []Value, last []float64, missing []string, m *vm.VM, env map[string]any) []Value {
	all := -1 // where the values of every metric start in values, once written
	for j, r := range e.file.Services[i].Rules {
		var vs []Value
		if e.run[i][j] {
			if all < 0 {
				all = len(values)
				for idx, m := range e.file.Metrics {
					values = appendValue(values, m.Name, last[idx], missing[idx])
				}
			}
			lo, hi := all+r.Needs[0], all+r.Needs[0]+len(r.Needs)
			vs = values[lo:hi:hi]
		} else {
			start := len(values)
			for _, idx := range r.Needs {
				values = appendValue(values, e.file.Metrics[idx].Name, last[idx], missing[idx])
			}
			vs = values[start:len(values):len(values)]
		}
		e.evalRule(now, r, &states[j], vs, &d.Rules[j], m, env)
		d.Rules[j].Action = e.actions[i][j]
	}
	return values
}

// appendValue appends one value to values, field by field when there is
// room: a fleet appends a hundred thousand per cycle, and a whole Value
// copied in costs a bulk write barrier while the collector runs.
func appendValue(values []Value, name string, v float64, missing string) []Value {
	n := len(values)
	if n == cap(values) {
		return append(values, Value{Name: name, Value: v, Missing: missing})
	}
	values = values[:n+1]
	p := &values[n]
	p.Name, p.Value, p.Missing = name, v, missing
	return values
}

// consecutive reports whether needs, sorted, are one run of consecutive
// metric indexes (and not empty).
func consecutive(needs []int) bool {
	for k, idx := range needs {
		if idx != needs[0]+k {
			return false
		}
	}
	return len(needs) > 0
}

// load copies snap into the expression environment and the missing reasons.
func (e *Evaluator) load(snap Snapshot) {
	for i, m := range e.file.Metrics {
		s, ok := snap[m.Name]
		switch {
		case !ok:
			e.missing[i] = "no value"
		case s.Missing != "":
			e.missing[i] = s.Missing
		case math.IsNaN(s.Value):
			e.missing[i] = "value is NaN"
		default:
			e.missing[i] = ""
		}
		v := s.Value
		if e.missing[i] != "" {
			v = math.NaN()
		}
		// Boxing a float allocates; most values repeat between cycles.
		if v != e.last[i] && !(math.IsNaN(v) && math.IsNaN(e.last[i])) {
			e.last[i] = v
			e.env[m.Name] = v
		}
	}
}

// evalRule computes the rule's condition and advances its state, into rr:
// the result is written in place, not copied, once per rule and server.
// rr is zero (freshly allocated): only the fields that are not are
// written, one by one, which costs a fleet less than a whole RuleResult
// written a hundred thousand times. The expressions run on m in env.
func (e *Evaluator) evalRule(now time.Time, r *ruleset.Rule, st *ruleState, values []Value, rr *RuleResult, m *vm.VM, env map[string]any) {
	rr.Name, rr.Expr, rr.Weight, rr.Values = r.Name, r.Expr, ruleset.Unset, values
	rr.Outcome, rr.Error = condition(r, values, m, env)
	if rr.Outcome == True && r.Weight != nil {
		if w, err := weight(r, m, env); err != nil {
			rr.Outcome, rr.Error = Unknown, runError(err)
		} else {
			st.weight = w
		}
	}

	cond := rr.Outcome
	if cond == Unknown {
		switch r.OnMissing {
		case ruleset.Skip:
			cond = False
		case ruleset.Fire:
			cond = True
		}
	}
	switch cond {
	case True:
		st.keepSince = time.Time{}
		if st.state == Inactive {
			st.activeAt = now
			st.state = Pending
		}
		if st.state == Pending && now.Sub(st.activeAt) >= r.For {
			st.state = Firing
		}
	case False:
		if st.state == Firing && r.KeepFiringFor > 0 {
			if st.keepSince.IsZero() {
				st.keepSince = now
			}
			if now.Sub(st.keepSince) < r.KeepFiringFor {
				break
			}
		}
		*st = ruleState{state: Inactive, weight: st.weight}
	}
	// Unknown with on_missing keep: the state stays as it was.

	rr.State = st.state
	if st.state != Inactive {
		rr.ActiveSince = st.activeAt
	}
	if r.Weight != nil {
		rr.Weight = st.weight
	}
}

// condition evaluates the rule's when expression on m in env.
func condition(r *ruleset.Rule, values []Value, m *vm.VM, env map[string]any) (Outcome, string) {
	for _, v := range values {
		if v.Missing != "" {
			return Unknown, ""
		}
	}
	out, err := m.Run(r.When, env)
	if err != nil {
		return Unknown, runError(err)
	}
	if b, ok := out.(bool); ok && b {
		return True, ""
	}
	return False, ""
}

// weight evaluates a rule's weight expression on m in env to an integer
// percent.
func weight(r *ruleset.Rule, m *vm.VM, env map[string]any) (int, error) {
	out, err := m.Run(r.Weight, env)
	if err != nil {
		return 0, err
	}
	var f float64
	switch v := out.(type) {
	case float64:
		f = v
	case int:
		f = float64(v)
	default:
		return 0, fmt.Errorf("weight is %T, not a number", out)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("weight is %v", f)
	}
	return int(math.Round(math.Max(0, math.Min(f, ruleset.MaxWeight)))), nil
}

// runError renders an evaluation error on one line: expr's own text adds
// the expression and a caret line under the column, which breaks the eval
// table and log lines.
func runError(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) && fe.Line > 0 {
		return fmt.Sprintf("%s (column %d)", fe.Message, fe.Column+1)
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

func joinAction(a, b string) string {
	if a == "" {
		return b
	}
	return a + ", " + b
}
