package pollbench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsAreContiguous(t *testing.T) {
	prevHi := uint64(0)
	for i := 0; i < nBuckets; i++ {
		lo, hi := bucketRange(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d: range [%d,%d] maps to %d,%d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if lo >= 1<<subBits && float64(hi-lo+1)/float64(lo) > 1.0/halfSub+1e-12 {
			t.Fatalf("bucket %d [%d,%d] wider than 1/%d", i, lo, hi, halfSub)
		}
		prevHi = hi
	}
	if prevHi != maxValue {
		t.Fatalf("last bucket ends at %d, want %d", prevHi, uint64(maxValue))
	}
}

func TestQuantilesMatchSortedSlice(t *testing.T) {
	var h histogram
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]time.Duration, 100000)
	for i := range vals {
		// log-uniform between 10µs and 1s
		vals[i] = time.Duration(10e3 * math.Pow(1e5, r.Float64()))
		h.record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		want := vals[int(q*float64(len(vals))+0.999999)-1]
		got := h.quantile(q)
		if got < want || float64(got-want) > float64(want)/halfSub {
			t.Errorf("q%v = %v, want %v (+0.8%%)", q, got, want)
		}
	}
	if h.quantile(1) != vals[len(vals)-1] {
		t.Errorf("max %v, want %v", h.quantile(1), vals[len(vals)-1])
	}
}
