package ruletest

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/collect"
	"github.com/haproxy-agent/agent/rules"
)

// bindServers checks a test's per-server series against a fleet rule file
// and settles the servers the test knows: those it lists, else the rule
// file's static ones, else every server a series names.
func bindServers(w *walker, rf *rules.File, t *Test) {
	shared := map[string]bool{}
	perServer := map[string]bool{}
	var named []string
	for _, sr := range t.Series {
		if sr.Server == "" && sr.Label == "" {
			shared[sr.Metric] = true
			continue
		}
		switch {
		case rf.Fleet == nil:
			w.errAt(sr.Pos, "input_series: %s{%s=%q}: a series per server needs a fleet rule file; %s has no fleet section", sr.Metric, sr.Label, sr.Server, rf.Path)
			continue
		case sr.Label != rf.Fleet.Label:
			w.errAt(sr.Pos, "input_series: %s{%s=%q}: the fleet names its servers by the label %q", sr.Metric, sr.Label, sr.Server, rf.Fleet.Label)
			continue
		case !rules.ServerName(sr.Server):
			w.errAt(sr.Pos, "input_series: %s: bad server name %q", sr.Metric, sr.Server)
			continue
		}
		perServer[sr.Metric] = true
		named = append(named, sr.Server)
	}
	for _, sr := range t.Series {
		if sr.Server == "" && perServer[sr.Metric] && shared[sr.Metric] {
			w.errAt(sr.Pos, "input_series: %s has a shared series and series per server: give one or the other", sr.Metric)
		}
	}
	if rf.Fleet == nil || t.Servers != nil {
		return
	}
	if rf.Fleet.Static != nil {
		t.Servers = rf.Fleet.Static
		return
	}
	slices.Sort(named)
	t.Servers = slices.Compact(named)
}

// bindServer checks an expectation's server (fleet) or its absence.
func bindServer(w *walker, rf *rules.File, t *Test, x *Expectation) bool {
	if rf.Fleet == nil {
		switch {
		case x.Server != "":
			w.errAt(x.serverPos, "server: %s has no fleet section; use service", rf.Path)
			return false
		case x.Held != nil:
			w.errAt(x.Pos, "held: the guardrail is for fleet rule files; %s has no fleet section", rf.Path)
			return false
		}
		return true
	}
	switch {
	case x.hasService:
		w.errAt(x.servicePos, "service: a fleet rule file has no services; name the server with server:")
		return false
	case x.Server == "":
		w.errAt(x.Pos, "expect: %s is a fleet rule file: name the server whose reply is checked with server:", rf.Path)
		return false
	case !slices.Contains(t.Servers, x.Server):
		w.errAt(x.serverPos, "server: the test knows no server %q%s", x.Server, hint(x.Server, t.Servers, "its servers"))
		return false
	}
	return true
}

// fleetSeries holds a test's input series by metric: shared ones, and
// those given per server.
type fleetSeries struct {
	shared    map[string][]Sample
	perServer map[string]map[string][]Sample
}

func newFleetSeries(t *Test) fleetSeries {
	fs := fleetSeries{shared: map[string][]Sample{}, perServer: map[string]map[string][]Sample{}}
	for _, sr := range t.Series {
		if sr.Server == "" {
			fs.shared[sr.Metric] = sr.Samples
			continue
		}
		if fs.perServer[sr.Metric] == nil {
			fs.perServer[sr.Metric] = map[string][]Sample{}
		}
		fs.perServer[sr.Metric][sr.Server] = sr.Samples
	}
	return fs
}

// observe reads every metric at time at through hold, as a collection
// cycle of `agent serve` would: a metric with series per server reads as
// a vector by server; when no server has a sample the read failed.
func (fs fleetSeries) observe(rf *rules.File, hold *collect.Holder, step *collect.Result, t *Test, at time.Duration) {
	now := Start.Add(at)
	step.Metrics = step.Metrics[:0]
	for _, m := range rf.Metrics {
		ps, ok := fs.perServer[m.Name]
		if !ok {
			v, err := sampleAt(fs.shared, m.Name, at, t.Interval)
			value, _, missing := hold.Observe(m.Name, now, v, err)
			step.Metrics = append(step.Metrics, collect.MetricValue{Name: m.Name, Value: value, Missing: missing})
			continue
		}
		vec := collect.Vector{ByLabel: make(map[string]float64, len(ps))}
		for server := range ps {
			if v, err := sampleAt(ps, server, at, t.Interval); err == nil {
				vec.ByLabel[server] = v
			}
		}
		var err error
		if len(vec.ByLabel) == 0 {
			err = errNoSample
		}
		_, vec, _, missing := hold.ObserveVector(m.Name, now, math.NaN(), vec, 0, err)
		step.Metrics = append(step.Metrics, collect.MetricValue{Name: m.Name, Value: math.NaN(), Missing: missing, ByServer: vec.ByLabel, ServerMissing: vec.Missing})
	}
}

// serverMetrics are the metrics as one server saw them.
func serverMetrics(rf *rules.File, snap evaluator.Snapshot, server string) []evaluator.Value {
	var out []evaluator.Value
	for _, m := range rf.Metrics {
		sm := snap[m.Name]
		v := evaluator.Value{Name: m.Name, Value: sm.Value, Missing: sm.Missing}
		if sm.Servers != nil && sm.Missing == "" {
			var ok bool
			if v.Value, ok = sm.Servers[server]; !ok {
				v.Missing = "no sample for this server"
			}
		}
		out = append(out, v)
	}
	return out
}

func fmtBool(b bool) string { return strconv.FormatBool(b) }
