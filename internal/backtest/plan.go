package backtest

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/haproxy-agent/agent/internal/collect"
	"github.com/haproxy-agent/agent/internal/source"
	"github.com/haproxy-agent/agent/rules"
)

// Plan says where each metric of a rule file takes its past values: a
// prometheus metric's own query, a scrape or host metric's history query,
// or a value fixed with --set.
type Plan struct {
	File   *rules.File
	inputs []input // by metric index
	// discovery reads a discovered fleet's servers; nil otherwise.
	discovery *input
}

// input is one metric's past values.
type input struct {
	// metric is the metric as read: for a history query, a copy whose
	// Query is the history query.
	metric *rules.Metric
	query  Query
	fixed  bool
	value  float64
	// hist, next, buf and vec are set by Replay.
	hist *History
	next []int
	buf  []model.Sample
	vec  model.Vector
}

// NoHistoryError lists the metrics a backtest cannot read: metrics of a
// source that keeps no past values (every kind but prometheus) without a
// history query, not fixed with --set.
type NoHistoryError struct {
	File    string
	Metrics []*rules.Metric
	// Kinds are the kinds of their sources, in the same order.
	Kinds []rules.SourceKind
}

func (e *NoHistoryError) Error() string {
	var b strings.Builder
	for i, m := range e.Metrics {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s:%d:%d: metric %q has no history: %s source %q keeps no past values; give its long form history: PROMQL (read from a prometheus source), or fix it with --set %s=VALUE",
			e.File, m.Pos.Line, m.Pos.Col, m.Name, e.Kinds[i], m.Source, m.Name)
	}
	return b.String()
}

// NewPlan settles where each metric of f takes its values, fixed ones
// from set (by metric name). It fails with a NoHistoryError naming every
// metric that has no history.
func NewPlan(f *rules.File, set map[string]float64) (*Plan, error) {
	p := &Plan{File: f, inputs: make([]input, len(f.Metrics))}
	nh := &NoHistoryError{File: f.Path}
	for i, m := range f.Metrics {
		in := &p.inputs[i]
		in.metric = m
		if v, ok := set[m.Name]; ok {
			in.fixed, in.value = true, v
			continue
		}
		src := f.Source(m.Source)
		switch {
		case src != nil && rules.HasQuery(src):
			in.query = Query{Source: src, Expr: m.Query}
		case m.History != "":
			hm := *m
			hm.Query, hm.Rate = m.History, false
			in.metric = &hm
			in.query = Query{Source: f.Source(m.HistorySource), Expr: m.History}
		default:
			kind := rules.SourceKind("unknown")
			if src != nil {
				kind = src.Kind
			}
			nh.Metrics, nh.Kinds = append(nh.Metrics, m), append(nh.Kinds, kind)
		}
	}
	if len(nh.Metrics) > 0 {
		return nil, nh
	}
	if fl := f.Fleet; fl != nil && fl.Discovery != nil {
		p.discovery = &input{metric: fl.Discovery, query: Query{Source: f.Source(fl.Discovery.Source), Expr: fl.Discovery.Query}}
	}
	return p, nil
}

// Queries are the queries the plan reads.
func (p *Plan) Queries() []Query {
	var qs []Query
	for i := range p.inputs {
		if !p.inputs[i].fixed {
			qs = append(qs, p.inputs[i].query)
		}
	}
	if p.discovery != nil {
		qs = append(qs, p.discovery.query)
	}
	return qs
}

// bind takes the histories the fetcher read.
func (in *input) bind(fe *Fetcher) error {
	if in.fixed {
		return nil
	}
	in.hist = fe.History(in.query)
	if in.hist == nil {
		return fmt.Errorf("metric %q: query %q was not read", in.metric.Name, in.query.Expr)
	}
	in.next = make([]int, in.hist.Series())
	in.buf = make([]model.Sample, in.hist.Series())
	in.vec = make(model.Vector, 0, in.hist.Series())
	return nil
}

// observe reads step k as a collection cycle at now would have read it,
// through hold.
func (in *input) observe(hold *collect.Holder, k int, now time.Time) collect.MetricValue {
	if in.fixed {
		return collect.MetricValue{Name: in.metric.Name, Source: "--set", Value: in.value}
	}
	in.vec = in.hist.at(k, in.next, stamp(now), in.buf, in.vec[:0])
	r := source.Reading(in.vec, in.metric, now)
	return hold.ObserveReading(in.metric, r, now)
}
