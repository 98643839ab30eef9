package collect

import (
	"fmt"
	"math"
	"time"
)

// Holder keeps each metric's last good value so that a failed read does not
// make the metric missing at once: the last good value is used until it is
// older than the stale-after duration. It is pure (the caller passes the
// time) so that `agent test` applies the very same rule as `serve`.
// A Holder is not safe for concurrent use.
type Holder struct {
	staleAfter time.Duration
	last       map[string]held
}

type held struct {
	value float64
	vec   Vector
	at    time.Time
}

// Vector is a metric's value per server in fleet mode: one value per label
// value, and why some label values have none.
type Vector struct {
	ByLabel map[string]float64
	Missing map[string]string
}

// NewHolder returns a Holder that keeps values for staleAfter.
func NewHolder(staleAfter time.Duration) *Holder {
	return &Holder{staleAfter: staleAfter, last: make(map[string]held)}
}

// Observe records one read of the named metric at now, either a value or
// the error that prevented one, and returns what the evaluator should see:
// the new value (age 0), the last good value until it is older than
// staleAfter (with its age), or a missing reason. A NaN value is no value:
// this is the one place that says so.
func (h *Holder) Observe(name string, now time.Time, v float64, err error) (value float64, age time.Duration, missing string) {
	return h.ObserveAged(name, now, v, 0, err)
}

// ObserveAged is Observe for a value that was already sampleAge old when
// it was read (from the timestamp its source gave it). A value older than
// staleAfter is stale as soon as it is read.
func (h *Holder) ObserveAged(name string, now time.Time, v float64, sampleAge time.Duration, err error) (value float64, age time.Duration, missing string) {
	reason := ""
	switch {
	case err != nil:
		reason = err.Error()
	case math.IsNaN(v):
		reason = "value is NaN"
	case sampleAge > h.staleAfter:
		reason = fmt.Sprintf("stale: sample timestamp %s old", sampleAge.Round(time.Second))
	default:
		at := now.Add(-max(sampleAge, 0))
		// A sample that is older than the one held does not replace it.
		if last, ok := h.last[name]; !ok || !at.Before(last.at) {
			h.last[name] = held{value: v, at: at}
			return v, now.Sub(at), ""
		}
		reason = "sample older than the last one read"
	}
	last, ok := h.last[name]
	if !ok {
		return math.NaN(), 0, reason
	}
	age = now.Sub(last.at)
	if age > h.staleAfter {
		return math.NaN(), age, fmt.Sprintf("stale: last good value %s ago (%s)", age.Round(time.Second), reason)
	}
	return last.value, age, ""
}

// ObserveVector is ObserveAged for a read that may have given a value per
// server (vec.ByLabel set; v is then unused): the whole vector is the last
// good value, held over failed reads as a single value is.
func (h *Holder) ObserveVector(name string, now time.Time, v float64, vec Vector, sampleAge time.Duration, err error) (value float64, out Vector, age time.Duration, missing string) {
	if err == nil && vec.ByLabel != nil {
		at := now.Add(-max(sampleAge, 0))
		h.last[name] = held{value: math.NaN(), vec: vec, at: at}
		return math.NaN(), vec, now.Sub(at), ""
	}
	value, age, missing = h.ObserveAged(name, now, v, sampleAge, err)
	if missing != "" {
		return value, Vector{}, age, missing
	}
	return value, h.last[name].vec, age, ""
}

// Carry takes over old's last good value of the named metric, after a
// reload that kept the metric as it was.
func (h *Holder) Carry(old *Holder, name string) {
	if v, ok := old.last[name]; ok {
		h.last[name] = v
	}
}
