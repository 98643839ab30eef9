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

// series is one series' values at the steps where it had one, in step
// order once History.sort ran.
type series struct {
	labels model.Metric
	points []point
}

// point is a series' value at one step of the range (MaxSteps fits an
// int32).
type point struct {
	step  int32
	value float64
}

func newHistory(r Range) *History {
	return &History{rng: r, byFP: map[model.Fingerprint]*series{}}
}

// add stores a range query's result; chunks may arrive in any order, and
// sort puts them in step order once all arrived.
func (h *History) add(m model.Matrix) {
	n := h.rng.Steps()
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
		s.points = slices.Grow(s.points, len(ss.Values))
		for _, p := range ss.Values {
			off := int64(p.Timestamp) - start
			if off < 0 || off%step != 0 {
				continue // not one of our steps
			}
			k := off / step
			if k >= int64(n) {
				continue
			}
			s.points = append(s.points, point{step: int32(k), value: float64(p.Value)})
		}
	}
}

// sort puts each series' points in step order, keeping one value per
// step, and releases the room appends left over.
func (h *History) sort() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.series {
		slices.SortStableFunc(s.points, func(a, b point) int { return cmp.Compare(a.step, b.step) })
		s.points = slices.Clip(slices.CompactFunc(s.points, func(a, b point) bool { return a.step == b.step }))
	}
}

// at appends to vec the samples of step k, stamped now, using buf as their
// storage (so that a replay allocates nothing per step); it returns vec.
// next holds, per series, the index of its first point not read yet: the
// steps of one replay come in order, each series is read from where the
// last step left it.
func (h *History) at(k int, next []int, now model.Time, buf []model.Sample, vec model.Vector) model.Vector {
	for i, s := range h.series {
		j := next[i]
		for j < len(s.points) && int(s.points[j].step) < k {
			j++
		}
		next[i] = j
		if j == len(s.points) || int(s.points[j].step) != k {
			continue
		}
		buf[i] = model.Sample{Metric: s.labels, Value: model.SampleValue(s.points[j].value), Timestamp: now}
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
		n += len(s.points)
	}
	return n
}

// Range is the range the history covers.
func (h *History) Range() Range { return h.rng }

// stamp converts a time to a sample timestamp.
func stamp(t time.Time) model.Time { return model.TimeFromUnixNano(t.UnixNano()) }
