package collect

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

// ObserveReading applies one read of metric m at now, as a collection
// cycle gives it, through the Holder: a good value replaces the held one; a
// failure keeps the held value until it is older than stale_after. A
// reading by label (fleet mode) is held as a whole vector. It is the one
// path from a reader's Reading to what the evaluator sees, shared by
// `agent serve` (Collector) and `agent backtest`.
func (h *Holder) ObserveReading(m *rules.Metric, r sample.Reading, now time.Time) MetricValue {
	if m.MaxSeries > 0 && len(r.ByLabel) > m.MaxSeries {
		r = sample.Reading{Err: fmt.Errorf("the query returned %d series by %s, over the limit of %d (at most %d servers, and servers × rules at most %d): narrow the query",
			len(r.ByLabel), m.ByLabel, m.MaxSeries, rules.MaxFleetServers, rules.MaxFleetRuleStates)}
	}
	if len(r.ByLabel) > 0 {
		// Err and Age describe the result as one value; by label, each
		// server has its own.
		r.Err, r.Age = nil, 0
	}
	value, vec, age, missing := h.ObserveVector(m.Name, now, r.Value, h.vectorOf(r), r.Age, r.Err)
	mv := MetricValue{Name: m.Name, Source: m.Source, Value: value, Age: age, Missing: missing,
		ByServer: vec.ByLabel, ServerMissing: vec.Missing}
	if vec.ByLabel != nil {
		mv.Value = 0
	}
	if r.Err != nil {
		mv.Err = r.Err.Error()
	}
	if missing != "" {
		// A stale value keeps its real age, so that /status says how long
		// ago the metric was last read.
		mv.Value = 0
	}
	return mv
}

// vectorOf turns a reading by label into the values held per server; the
// zero Vector when the reading has none, and its Value is shared. A
// server's sample older than stale_after (Prometheus answers with a
// series' last sample for 5 minutes after it stopped) is missing.
func (h *Holder) vectorOf(r sample.Reading) Vector {
	if len(r.ByLabel) == 0 {
		return Vector{}
	}
	v := Vector{ByLabel: make(map[string]float64, len(r.ByLabel))}
	for name, l := range r.ByLabel {
		reason := ""
		switch {
		case l.Err != nil:
			reason = l.Err.Error()
		case math.IsNaN(l.Value):
			reason = "value is NaN"
		case l.Age > h.staleAfter:
			reason = fmt.Sprintf("stale: sample timestamp %s old", l.Age.Round(time.Second))
		default:
			v.ByLabel[name] = l.Value
			continue
		}
		if v.Missing == nil {
			v.Missing = map[string]string{}
		}
		v.Missing[name] = reason
	}
	return v
}

// Discovered returns the servers a fleet's discovery read names, sorted;
// empty when the read has no usable result (d.Missing then says why).
func Discovered(d *MetricValue) []string {
	out := make([]string, 0, len(d.ByServer))
	for name := range d.ByServer {
		if rules.ServerName(name) {
			out = append(out, name)
		}
	}
	for name, why := range d.ServerMissing {
		// A stale sample is a series that ended: not a server any more.
		if rules.ServerName(name) && !strings.HasPrefix(why, "stale:") {
			out = append(out, name)
		}
	}
	if len(out) == 0 && d.Missing == "" && d.ByServer == nil {
		d.Missing = "discovery query returned no series with the server label"
	}
	slices.Sort(out)
	return out
}
