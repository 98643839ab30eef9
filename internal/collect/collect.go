// Package collect reads every source of a rule file once per evaluation
// cycle, concurrently and each within its timeout, and turns what came back
// into the snapshot the evaluator consumes, holding last good values until
// they are stale.
package collect

import (
	"context"

	"github.com/haproxy-agent/agent/rules"
)

// Reader reads the metrics of one source. The collector calls Read from one
// goroutine at a time, once per cycle, with a context bounded by the
// source's timeout. A Reader may keep state between reads (previous counter
// values for rates, the previous CPU counters).
type Reader interface {
	// Read returns one Reading per metric, in the order given. An error
	// return means the whole source failed; every metric is then missing
	// with that error as the reason.
	Read(ctx context.Context, metrics []*rules.Metric) ([]Reading, error)
}

// Reading is one metric's value from one read, or why there is none.
type Reading struct {
	Value float64
	// Err is why the metric has no value in this read (no series matched,
	// several matched without aggregate, NaN...). Nil when Value is valid.
	Err error
}

// NewReaderFunc builds the Reader of a source. It is called at load time,
// so that a reload can fail before anything changes.
type NewReaderFunc func(src *rules.Source) (Reader, error)
