package source

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

// seriesSelector turns the series of one read of a source, by name, into
// one Reading per metric: its selector's matches, reduced by its aggregate,
// or turned into a rate. Every kind whose read yields series with labels
// (a scraped page, a probe, a command's output) selects through it, so
// that selectors, aggregate, rate and sample timestamps mean the same for
// all. It keeps the counters of the previous read for rates; it is used
// by one goroutine at a time.
type seriesSelector struct {
	rates rates
	vals  []float64
}

// all returns one Reading per metric from fams, the read's series by
// name; t is the time of the read. absent, when not nil, says why a
// metric whose selector matched nothing is missing, when the read knows
// better than "no series matched" (a probe with no response has no
// status_code; a command that failed has no output); nil leaves that.
func (s *seriesSelector) all(fams map[string][]series, metrics []*rules.Metric, t time.Time, absent func(*rules.Metric) error) []sample.Reading {
	s.rates.begin()
	out := make([]sample.Reading, len(metrics))
	for i, m := range metrics {
		var matched int
		out[i], matched = s.one(fams, m, t)
		if matched == 0 && absent != nil {
			if err := absent(m); err != nil {
				out[i] = sample.Reading{Err: err}
			}
		}
	}
	return out
}

// one selects m's series from fams; matched is how many its selector matched.
func (s *seriesSelector) one(fams map[string][]series, m *rules.Metric, t time.Time) (_ sample.Reading, matched int) {
	var st *rateState
	if m.Rate {
		st = s.rates.state(m.Selector)
	}
	s.vals = s.vals[:0]
	fresh := 0
	var age time.Duration
	add := func(sr *series) {
		if !matches(m, sr.lset) {
			return
		}
		matched++
		v, at := sr.v, t
		if sr.hasTS {
			at = time.UnixMilli(sr.ts)
			age = max(age, t.Sub(at))
		}
		if st != nil {
			r, ok := st.rate(sr.lset.Hash(), v, at)
			if !ok {
				fresh++
				return
			}
			v = r
		}
		s.vals = append(s.vals, v)
	}
	if name, ok := equalName(m); ok {
		for i := range fams[name] {
			add(&fams[name][i])
		}
	} else {
		for _, f := range fams {
			for i := range f {
				add(&f[i])
			}
		}
	}
	var err error
	switch {
	case matched == 0:
		err = fmt.Errorf("no series matched %s", m.Selector)
	case matched > 1 && m.Aggregate == rules.AggNone:
		err = fmt.Errorf("%d series matched; set aggregate", matched)
	case len(s.vals) == 0:
		err = errFirstScrape
	}
	if err != nil {
		return sample.Reading{Err: err}, matched
	}
	v, err := reduce(s.vals, m.Aggregate, "series matched")
	return sample.Reading{Value: v, Err: err, Age: age}, matched
}

// equalName is the name a metric selects by equality, if it does.
func equalName(m *rules.Metric) (string, bool) {
	for _, l := range m.Matchers {
		if l.Name == model.MetricNameLabel && l.Type == labels.MatchEqual {
			return l.Value, true
		}
	}
	return "", false
}

// matches applies every matcher of m to a series; a label the series lacks
// has the empty value, as in PromQL.
func matches(m *rules.Metric, lset labels.Labels) bool {
	for _, l := range m.Matchers {
		if !l.Matches(lset.Get(l.Name)) {
			return false
		}
	}
	return true
}
