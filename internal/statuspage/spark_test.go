package statuspage

import (
	"math"
	"testing"
)

func TestSparkPath(t *testing.T) {
	n := float32(math.NaN())
	for _, tc := range []struct {
		name string
		vals []float32
		want string
	}{
		{"empty", []float32{n, n, n}, ""},
		{"one point", []float32{n, 5, n}, "M1200 180 l1 0"},
		{"flat run keeps its ends", []float32{1, 1, 1, 1}, "M300 180 L2100 180"},
		{"up then flat", []float32{0, 10, 10, 10}, "M300 340 L900 20 L2100 20"},
		{"gap breaks the line", []float32{0, n, 10, 10}, "M300 340 l1 0 M1500 20 L2100 20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := newSpark(tc.vals).Path; got != tc.want {
				t.Errorf("path = %q, want %q", got, tc.want)
			}
		})
	}
	// 720 steps fall into 120 columns, each with its smallest and largest
	// value: a one-step spike still shows.
	vals := make([]float32, 720)
	vals[301] = 100
	sp := newSpark(vals)
	if sp.Max != 100 || sp.Min != 0 || sp.Last != 0 || !sp.HasLast {
		t.Errorf("spark = %+v", sp)
	}
	if want := "M10 340 L990 340 L1010 20 L1010 340 L2390 340"; sp.Path != want {
		t.Errorf("spike path = %q, want %q", sp.Path, want)
	}
}
