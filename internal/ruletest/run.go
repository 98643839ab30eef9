package ruletest

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/collect"
	"github.com/haproxy-agent/agent/internal/cycle"
	"github.com/haproxy-agent/agent/rules"
)

// Start is the simulated time of a test's first evaluation (at 0s). It is
// fixed so that runs are reproducible.
var Start = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// The read errors fed to the Holder when a series has no sample, so that a
// gap behaves as a failed read does in `agent serve`.
var (
	errNoSample = errors.New("no sample")
	errNoSeries = errors.New("no input series")
)

// Failure is one expectation that did not hold.
type Failure struct {
	Test    string
	At      time.Duration
	Service string
	// Server is the fleet server checked; empty outside fleet mode.
	Server string
	// Diffs are the parts that differ, in the order held, reply, phase, op,
	// admin, weight, maxconn, firing, pending.
	Diffs []Diff
	// Firing and Pending are the rules of the service in those states then.
	Firing, Pending []string
	// Phase and Ramp are the reply's phase and the weight ramp in
	// progress (nil when none) then.
	Phase evaluator.Phase
	Ramp  *evaluator.Ramp
	// Metrics are every metric of the rule file as the rules saw it then,
	// after last-good-value holding, in file order.
	Metrics []evaluator.Value
}

// Diff is one part of a reply that is not what was expected; both sides
// are rendered as in the test file.
type Diff struct {
	Field    string
	Expected string
	Got      string
}

// String renders the failure as one line per diff, then what the rules
// saw, as `agent test` prints it (without indentation).
func (f *Failure) String() string {
	var b strings.Builder
	head := fmt.Sprintf("test %q, at %s, service %s: ", f.Test, fmtDur(f.At), f.Service)
	if f.Server != "" {
		head = fmt.Sprintf("test %q, at %s, server %s: ", f.Test, fmtDur(f.At), f.Server)
	}
	for _, d := range f.Diffs {
		fmt.Fprintf(&b, "%s%s: expected %s got %s\n", head, d.Field, d.Expected, d.Got)
	}
	fmt.Fprintf(&b, "  firing: %s, pending: %s, phase: %s", fmtNames(f.Firing), fmtNames(f.Pending), f.Phase)
	if r := f.Ramp; r != nil {
		fmt.Fprintf(&b, ", ramp: %d%% to %d%% from %s to %s", r.From, r.To, fmtDur(r.Since.Sub(Start)), fmtDur(r.Until.Sub(Start)))
	}
	b.WriteString("\n")
	b.WriteString("  metrics:")
	for _, v := range f.Metrics {
		b.WriteString(" " + v.Name + "=")
		if v.Missing != "" {
			b.WriteString("missing (" + v.Missing + ")")
		} else {
			b.WriteString(strconv.FormatFloat(v.Value, 'g', -1, 64))
		}
	}
	b.WriteString("\n")
	return b.String()
}

// Run runs the tests whose name match filter (all when filter is nil), in
// file order, and returns the expectations that failed and how many tests
// ran. The suite must be bound to its rule file (LoadFile does it).
func (s *Suite) Run(filter *regexp.Regexp) (failures []*Failure, ran int) {
	for _, t := range s.Tests {
		if filter != nil && !filter.MatchString(t.Name) {
			continue
		}
		ran++
		failures = append(failures, s.runTest(t)...)
	}
	return failures, ran
}

// runTest feeds the test's series through a fresh Holder and Evaluator,
// exactly as `agent serve` feeds what its sources read, one evaluation per
// evaluation interval, and compares at each expectation's time.
func (s *Suite) runTest(t *Test) []*Failure {
	rf, step := s.Rules, s.EvaluationInterval
	cy := cycle.Replay{Eval: evaluator.New(rf)}
	hold := collect.NewHolder(rf.StaleAfter)

	series := newFleetSeries(t)
	expect := slices.Clone(t.Expect)
	sort.SliceStable(expect, func(i, j int) bool { return expect[i].At < expect[j].At })
	if len(expect) == 0 {
		return nil
	}
	last := expect[len(expect)-1].At

	var failures []*Failure
	values := &collect.Result{Metrics: make([]collect.MetricValue, 0, len(rf.Metrics))}
	for at := time.Duration(0); at <= last; at += step {
		now := Start.Add(at)
		series.observe(rf, hold, values, t, at)
		res := cy.Run(now, values, t.Servers)
		for len(expect) > 0 && expect[0].At == at {
			if f := compare(t, expect[0], res, cy.Snapshot(), rf); f != nil {
				failures = append(failures, f)
			}
			expect = expect[1:]
		}
	}
	return failures
}

// sampleAt returns the value a read at time at would give: the series'
// sample in force then (index at / interval), or the error of a failed read.
func sampleAt(series map[string][]Sample, name string, at, interval time.Duration) (float64, error) {
	samples, ok := series[name]
	if !ok {
		return 0, errNoSeries
	}
	i := int(at / interval)
	if i >= len(samples) || samples[i].Omitted {
		return 0, errNoSample
	}
	return samples[i].Value, nil
}

// compare checks one expectation against an evaluation's result.
func compare(t *Test, x *Expectation, res *evaluator.Result, snap evaluator.Snapshot, rf *rules.File) *Failure {
	d := res.Service(x.Service)
	if rf.Fleet != nil {
		d = res.Server(x.Server)
	}
	if d == nil {
		// Bind checked the name; a missing decision is a bug, not a pass.
		return &Failure{Test: t.Name, At: x.At, Service: x.Service,
			Diffs: []Diff{{Field: "service", Expected: strconv.Quote(x.Service), Got: "no decision"}}}
	}
	var pending []string
	for _, r := range d.Rules {
		if r.State == evaluator.Pending {
			pending = append(pending, r.Name)
		}
	}
	var diffs []Diff
	add := func(field, want, got string) {
		if want != got {
			diffs = append(diffs, Diff{Field: field, Expected: want, Got: got})
		}
	}
	if x.Held != nil {
		add("held", fmtBool(*x.Held), fmtBool(d.Held))
	}
	if x.Reply != nil {
		add("reply", quoteLine(*x.Reply), quoteLine(d.Reply))
	}
	if x.Phase != nil {
		add("phase", *x.Phase, string(d.Phase))
	}
	if x.Op != nil {
		add("op", *x.Op, d.Op.String())
	}
	if x.Admin != nil {
		add("admin", *x.Admin, d.Admin.String())
	}
	if x.Weight != nil {
		add("weight", strconv.Itoa(*x.Weight)+"%", strconv.Itoa(d.Weight)+"%")
	}
	if x.Maxconn != nil {
		add("maxconn", fmtMaxconn(*x.Maxconn), fmtMaxconn(d.Maxconn))
	}
	if x.Firing != nil {
		add("firing", fmtNames(x.Firing), fmtNames(d.Firing))
	}
	if x.Pending != nil {
		add("pending", fmtNames(x.Pending), fmtNames(pending))
	}
	if len(diffs) == 0 {
		return nil
	}
	f := &Failure{Test: t.Name, At: x.At, Service: d.Service, Server: d.Server, Diffs: diffs, Firing: d.Firing, Pending: pending, Phase: d.Phase, Ramp: d.Ramp}
	if rf.Fleet != nil {
		f.Metrics = serverMetrics(rf, snap, d.Server)
		return f
	}
	for _, m := range rf.Metrics {
		sm := snap[m.Name]
		f.Metrics = append(f.Metrics, evaluator.Value{Name: m.Name, Value: sm.Value, Missing: sm.Missing})
	}
	return f
}

// quoteLine quotes a reply line without its final newline.
func quoteLine(s string) string { return strconv.Quote(strings.TrimSuffix(s, "\n")) }

func fmtMaxconn(n int) string {
	if n == rules.Unset {
		return "none"
	}
	return strconv.Itoa(n)
}

// fmtNames renders rule names as a YAML flow list, each quoted, so that
// names holding commas or spaces read unambiguously.
func fmtNames(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
