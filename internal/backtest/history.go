package backtest

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/common/model"
)

// History is what one PromQL query returned over a Range: each series'
// value at each step where it had one. A range query's value at a step is
// what an instant query at that time returns (the last sample within the
// lookback window), so a step here reads as a collection cycle would have
// read at that time. It keeps only the values that arrived, so that its
// size follows the data and not the number of steps of the range.
type History struct {
	rng    Range
	mu     sync.Mutex
	series []*series
	byFP   map[model.Fingerprint]*series
}

// series is one series' values at the steps where it had one, as runs of
// consecutive steps, in step order once History.sort ran. A range query
// has a value at every step while its series exists: dense history is a
// run per chunk, a float64 a step, and sparse history costs a run per
// stretch of values.
type series struct {
	labels model.Metric
	runs   []stepRun
}

// stepRun is a series' values at the consecutive steps from from on
// (MaxSteps fits an int32).
type stepRun struct {
	from int32
	vals []float64
}

func (r *stepRun) end() int { return int(r.from) + len(r.vals) }

func newHistory(r Range) *History {
	return &History{rng: r, byFP: map[model.Fingerprint]*series{}}
}

// add stores a range query's result; chunks may arrive in any order, and
// sort puts them in step order once all arrived.
func (h *History) add(m model.Matrix) {
	n := int64(h.rng.Steps())
	start, step := h.rng.Start.UnixMilli(), h.rng.Step.Milliseconds()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ss := range m {
		fp := ss.Metric.Fingerprint()
		s := h.byFP[fp]
		if s == nil {
			s = &series{labels: ss.Metric}
			h.byFP[fp] = s
			h.series = append(h.series, s)
		}
		// The step of each value, -1 for a timestamp that is not one of
		// ours; each stretch of consecutive steps becomes one run, its
		// slice made to measure.
		steps := make([]int64, len(ss.Values))
		for i, p := range ss.Values {
			off := int64(p.Timestamp) - start
			steps[i] = -1
			if off >= 0 && off%step == 0 && off/step < n {
				steps[i] = off / step
			}
		}
		for i := 0; i < len(steps); {
			if steps[i] < 0 {
				i++
				continue
			}
			j := i + 1
			for j < len(steps) && steps[j] == steps[j-1]+1 {
				j++
			}
			r := stepRun{from: int32(steps[i]), vals: make([]float64, j-i)}
			for x := i; x < j; x++ {
				r.vals[x-i] = float64(ss.Values[x].Value)
			}
			s.runs = append(s.runs, r)
			i = j
		}
	}
}

// sort puts each series' runs in step order.
func (h *History) sort() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.series {
		slices.SortFunc(s.runs, func(a, b stepRun) int { return cmp.Compare(a.from, b.from) })
		s.runs = slices.Clip(s.runs)
	}
}

// at appends to vec the samples of step k, stamped now, using buf as their
// storage (so that a replay allocates nothing per step); it returns vec.
// next holds, per series, the index of the first run not read to its end:
// the steps of one replay come in order, and each series is read on from
// where the last step left it.
func (h *History) at(k int, next []int, now model.Time, buf []model.Sample, vec model.Vector) model.Vector {
	for i, s := range h.series {
		j := next[i]
		for j < len(s.runs) && s.runs[j].end() <= k {
			j++
		}
		next[i] = j
		if j == len(s.runs) || int(s.runs[j].from) > k {
			continue
		}
		r := &s.runs[j]
		buf[i] = model.Sample{Metric: s.labels, Value: model.SampleValue(r.vals[k-int(r.from)]), Timestamp: now}
		vec = append(vec, &buf[i])
	}
	return vec
}

// Series is the number of series the query returned.
func (h *History) Series() int { return len(h.series) }

// Points is the number of values held.
func (h *History) Points() int {
	n := 0
	for _, s := range h.series {
		for _, r := range s.runs {
			n += len(r.vals)
		}
	}
	return n
}

// Range is the range the history covers.
func (h *History) Range() Range { return h.rng }

// stamp converts a time to a sample timestamp.
func stamp(t time.Time) model.Time { return model.TimeFromUnixNano(t.UnixNano()) }
