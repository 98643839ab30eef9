package pollbench

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram is log-linear in the manner of HdrHistogram: values below
// 2^subBits nanoseconds have their own bucket, and every power of two above
// that is split into 2^(subBits-1) buckets, so a bucket is at most 1/128
// (0.8%) of its value wide. Values are capped at maxValue; memory is fixed
// (about 37 KiB) whatever the number of polls.
const (
	subBits  = 8
	halfSub  = 1 << (subBits - 1)
	maxShift = 40 - subBits // values up to 2^40 ns (about 18 minutes)
	maxValue = 1<<40 - 1
	nBuckets = (maxShift + 2) * halfSub
)

// histogram records durations concurrently without locks.
type histogram struct {
	counts [nBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Uint64
}

func bucketOf(v uint64) int {
	if v > maxValue {
		v = maxValue
	}
	if v < 1<<subBits {
		return int(v)
	}
	shift := bits.Len64(v) - subBits
	return shift*halfSub + int(v>>uint(shift))
}

// bucketRange returns the smallest and largest value that land in bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < 1<<subBits {
		return uint64(i), uint64(i)
	}
	shift := i/halfSub - 1
	mant := uint64(i - shift*halfSub)
	lo = mant << uint(shift)
	return lo, lo + (1 << uint(shift)) - 1
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	v := uint64(d)
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// quantile returns the value at quantile q (0 < q <= 1): the upper end of
// the bucket holding the ceil(q*n)-th smallest value, capped at the exact
// maximum, so reported percentiles never understate.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	var seen uint64
	max := h.max.Load()
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			_, hi := bucketRange(i)
			if hi > max {
				hi = max
			}
			return time.Duration(hi)
		}
	}
	return time.Duration(max)
}

func (h *histogram) mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}
