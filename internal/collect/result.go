package collect

import (
	"time"

	"github.com/haproxy-agent/agent/internal/jsonout"
)

// Result is what one collection cycle saw: every metric of the rule file,
// in file order, and every source that metrics read, in file order.
type Result struct {
	// Time is the cycle's time, as passed to Collect.
	Time    time.Time      `json:"time"`
	Metrics []MetricValue  `json:"metrics"`
	Sources []SourceHealth `json:"sources"`
	// Servers, in fleet mode, are the servers known this cycle, sorted:
	// the static list or the label values of the discovery query. Empty
	// (not nil) when discovery has no usable result (see Discovery).
	Servers []string `json:"servers,omitempty"`
	// Discovery is the discovery query's read, for a discovered fleet.
	Discovery *MetricValue `json:"discovery,omitempty"`
}

// MetricValue is one metric's value in a cycle, or why there is none.
type MetricValue struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	// Value is the value used; 0 when Missing is set (never NaN).
	Value float64 `json:"value"`
	// Age is how old Value is: 0 when this cycle read it, more while a
	// last good value is held over failed reads; for a metric gone stale,
	// the age of its last good value (0 when it never had one).
	Age time.Duration `json:"age"`
	// Missing is why there is no usable value; empty when Value is valid.
	Missing string `json:"missing,omitempty"`
	// Err is why this cycle's read gave no value, also when a held value
	// is used; empty when the read succeeded.
	Err string `json:"error,omitempty"`
	// ByServer, in fleet mode, holds each server's own value when the
	// query returned a vector keyed by the fleet's label; Value is then
	// unused (not in JSON: see each server's values). ServerMissing says
	// why a server of the vector has none.
	ByServer      map[string]float64 `json:"-"`
	ServerMissing map[string]string  `json:"server_missing,omitempty"`
}

// MarshalJSON writes a Value that is not a finite number (a scraped
// +Inf) as null with "non_finite" naming it, as every JSON document of the
// agent does: encoding/json would fail the whole document over it.
func (m MetricValue) MarshalJSON() ([]byte, error) {
	type plain MetricValue
	out := struct {
		plain
		Value     *float64 `json:"value"`
		NonFinite string   `json:"non_finite,omitempty"`
	}{plain: plain(m)}
	out.Value, out.NonFinite = jsonout.Number(m.Value)
	return jsonout.Compact(out)
}

// SourceHealth is how one source's read went in a cycle.
type SourceHealth struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Up is true when the read succeeded as a whole (single metrics may
	// still be missing).
	Up bool `json:"up"`
	// Duration is how long the read took.
	Duration time.Duration `json:"duration"`
	// Err is why the read failed; empty when Up.
	Err string `json:"error,omitempty"`
	// LastSuccess is the cycle time of the last successful read; zero when
	// there was none.
	LastSuccess time.Time `json:"last_success,omitzero"`
}

// Metric returns the value of the named metric, or nil.
func (r *Result) Metric(name string) *MetricValue {
	for i := range r.Metrics {
		if r.Metrics[i].Name == name {
			return &r.Metrics[i]
		}
	}
	return nil
}

// Source returns the health of the named source, or nil.
func (r *Result) Source(name string) *SourceHealth {
	for i := range r.Sources {
		if r.Sources[i].Name == name {
			return &r.Sources[i]
		}
	}
	return nil
}
