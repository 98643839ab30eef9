package backtest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// MaxPoints is the most steps one range query asks for: below Prometheus'
// limit of 11,000 points per series.
const MaxPoints = 10000

// MaxSteps bounds the steps of one backtest (a year at 5s is 6.3 million).
const MaxSteps = 10_000_000

// Range is the simulated time a backtest covers: one evaluation at Start,
// Start+Step, ... while before End. Each evaluation stands for the Step
// that follows it.
type Range struct {
	Start, End time.Time
	Step       time.Duration
}

// NewRange returns the range from start to end at step, with start moved
// back to a multiple of step since the Unix epoch, as Grafana aligns range
// queries (the same data then gives the same steps whenever it is asked),
// and end moved back to a whole number of steps after start: every
// evaluation stands for one whole step.
func NewRange(start, end time.Time, step time.Duration) (Range, error) {
	switch {
	case step <= 0:
		return Range{}, fmt.Errorf("step %s: must be greater than 0", step)
	case step%time.Millisecond != 0:
		return Range{}, fmt.Errorf("step %s: must be a whole number of milliseconds", step)
	case !end.After(start):
		return Range{}, fmt.Errorf("end %s is not after start %s", end.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))
	}
	ms := step.Milliseconds()
	s := start.UnixMilli()
	s -= ((s % ms) + ms) % ms
	r := Range{Start: time.UnixMilli(s).UTC(), Step: step}
	span := end.Sub(r.Start)
	n := span / step
	switch {
	case !r.Start.Add(span).Equal(end):
		// Sub saturates at the longest time.Duration: the range would
		// silently end elsewhere.
		return Range{}, fmt.Errorf("from %s to %s is longer than 292 years, the longest range a backtest covers",
			start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))
	case n < 1:
		return Range{}, fmt.Errorf("from %s to %s is shorter than one step of %s", start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), step)
	case n > MaxSteps:
		return Range{}, fmt.Errorf("%d steps of %s from %s to %s: the limit is %d; use a longer --step", n, step,
			r.Start.Format(time.RFC3339), end.UTC().Format(time.RFC3339), MaxSteps)
	}
	r.End = r.Start.Add(n * step)
	return r, nil
}

// Steps is the number of evaluations.
func (r Range) Steps() int { return int(r.End.Sub(r.Start) / r.Step) }

// At is the time of evaluation k.
func (r Range) At(k int) time.Time { return r.Start.Add(time.Duration(k) * r.Step) }

// Chunk is a run of evaluations, First to Last included, read with one
// range query.
type Chunk struct{ First, Last int }

// Chunks splits the range into runs of at most maxPoints evaluations.
func (r Range) Chunks(maxPoints int) []Chunk {
	n := r.Steps()
	var out []Chunk
	for first := 0; first < n; first += maxPoints {
		out = append(out, Chunk{First: first, Last: min(first+maxPoints, n) - 1})
	}
	return out
}

// ParseTime reads a time as promtool takes it: RFC 3339
// (2026-12-01T10:00:00Z) or Unix time in seconds, with a fraction.
func ParseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e12 {
			return time.Time{}, fmt.Errorf("time %q: out of range", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("time " + strconv.Quote(s) + ": want RFC 3339 (2026-12-01T10:00:00Z) or Unix time in seconds")
	}
	return t, nil
}
