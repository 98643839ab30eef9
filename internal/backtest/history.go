package backtest

import (
	"math/bits"
	"sync"
	"time"

	"github.com/prometheus/common/model"
)

// History is what one PromQL query returned over a Range: each series'
// value at each step where it had one. A range query's value at a step is
// what an instant query at that time returns (the last sample within the
// lookback window), so a step here reads as a collection cycle would have
// read at that time.
type History struct {
	rng    Range
	mu     sync.Mutex
	series []*series
	byFP   map[model.Fingerprint]*series
}

// series is one series' values by step; has marks the steps with a value.
type series struct {
	labels model.Metric
	vals   []float64
	has    []uint64
}

func newHistory(r Range) *History {
	return &History{rng: r, byFP: map[model.Fingerprint]*series{}}
}

// add stores a range query's result; chunks may arrive in any order.
func (h *History) add(m model.Matrix) {
	n := h.rng.Steps()
	start, step := h.rng.Start.UnixMilli(), h.rng.Step.Milliseconds()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ss := range m {
		fp := ss.Metric.Fingerprint()
		s := h.byFP[fp]
		if s == nil {
			s = &series{labels: ss.Metric, vals: make([]float64, n), has: make([]uint64, (n+63)/64)}
			h.byFP[fp] = s
			h.series = append(h.series, s)
		}
		for _, p := range ss.Values {
			off := int64(p.Timestamp) - start
			if off < 0 || off%step != 0 {
				continue // not one of our steps
			}
			k := int(off / step)
			if k >= n {
				continue
			}
			s.vals[k] = float64(p.Value)
			s.has[k/64] |= 1 << (k % 64)
		}
	}
}

// at appends to vec the samples of step k, stamped now, using buf as their
// storage (so that a replay allocates nothing per step); it returns vec.
func (h *History) at(k int, now model.Time, buf []model.Sample, vec model.Vector) model.Vector {
	for i, s := range h.series {
		if s.has[k/64]&(1<<(k%64)) == 0 {
			continue
		}
		buf[i] = model.Sample{Metric: s.labels, Value: model.SampleValue(s.vals[k]), Timestamp: now}
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
		for _, w := range s.has {
			n += bits.OnesCount64(w)
		}
	}
	return n
}

// Range is the range the history covers.
func (h *History) Range() Range { return h.rng }

// stamp converts a time to a sample timestamp.
func stamp(t time.Time) model.Time { return model.TimeFromUnixNano(t.UnixNano()) }
