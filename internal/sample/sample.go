// Package sample holds what a source's reader hands to the collector: the
// Reader interface, one Reading per metric, and the error of a read that
// ran out of time. It imports nothing of the agent but the rule types, so
// that producers (internal/source) and the consumer (internal/collect)
// both depend on it rather than on each other.
package sample

import (
	"context"
	"time"

	"github.com/haproxy-agent/agent/rules"
)

// Reader reads the metrics of one source. The collector calls Read from one
// goroutine at a time, once per cycle, with a context bounded by the
// source's timeout. A Reader may keep state between reads (previous counter
// values for rates, the previous CPU counters, idle connections).
type Reader interface {
	// Read returns one Reading per metric, in the order given. An error
	// return means the whole source failed; every metric is then missing
	// with that error as the reason.
	Read(ctx context.Context, metrics []*rules.Metric) ([]Reading, error)
}

// Outcome is a Reader whose read has an outcome even when it runs out of
// time: a probe that timed out is success 0, a command killed at its
// deadline says so. Such a reader ends its Read at its context's
// deadline by itself, and the collector waits for its readings for
// ResultGrace past that deadline rather than cutting it off there. A
// reader that is not an Outcome is cut off at the deadline (its result
// dropped, the read a timeout), so that one ignoring its context cannot
// hold up a cycle.
type Outcome interface {
	Reader
	// ResultGrace is how long after the deadline its readings are still
	// waited for.
	ResultGrace() time.Duration
}

// Reading is one metric's value from one read, or why there is none.
type Reading struct {
	// Value is the metric's value. It may be NaN: the collector turns a
	// NaN into a missing value, in one place.
	Value float64
	// Err is why the metric has no value in this read (no series matched,
	// several matched without aggregate...). Nil when Value is valid.
	Err error
	// Age is how old the sample was when it was read, from the timestamp
	// the source gave it (a timestamp on a scraped page, a query result's
	// sample time); 0 when it carried none or one in the future. A sample
	// older than the rule file's stale_after is stale.
	Age time.Duration
	// ByLabel holds, for a metric read by label (rules.Metric.ByLabel),
	// each sample of the result keyed by that label's value. Value and Err
	// then describe the result as a whole (its one shared value when the
	// result is a scalar or a single sample without the label). Nil for
	// other metrics.
	ByLabel map[string]Labeled
}

// Labeled is the value of one label value in a result read by label: its
// sample, or its samples reduced with the metric's aggregate.
type Labeled struct {
	Value float64
	// Age is as Reading.Age, for this value.
	Age time.Duration
	// Err is why this label value has no value (several samples without
	// aggregate, a native histogram); nil when Value is valid.
	Err error
}

// NewReaderFunc builds the Reader of a source. It is called at load time,
// so that a reload can fail before anything changes.
type NewReaderFunc func(src *rules.Source) (Reader, error)

// TimeoutError is the error of a read that did not finish within its
// source's timeout. It reads "timeout after 1s" and matches
// context.DeadlineExceeded with errors.Is.
type TimeoutError struct {
	// After is the timeout that expired.
	After time.Duration
}

func (e *TimeoutError) Error() string { return "timeout after " + e.After.String() }

// Unwrap lets errors.Is(err, context.DeadlineExceeded) hold.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }
