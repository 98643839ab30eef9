package evaluator

import (
	"math"
	"testing"
)

func TestBoxKeepsTheValue(t *testing.T) {
	for _, v := range []float64{0, math.Copysign(0, -1), 0.5, 1, 1.5, 42, 254.999, 255, 256, -1, -42, 1e300, math.Inf(1), math.Inf(-1), math.NaN()} {
		got, ok := box(v).(float64)
		if !ok || math.Float64bits(got) != math.Float64bits(v) {
			t.Errorf("box(%v) = %#v, want the float64 %v bit for bit", v, box(v), v)
		}
	}
}

func TestBoxSmallWholeNumbersDoNotAllocate(t *testing.T) {
	sink := make([]any, 0, 255)
	allocs := testing.AllocsPerRun(10, func() {
		sink = sink[:0]
		for i := 1; i < 256; i++ {
			sink = append(sink, box(float64(i)))
		}
	})
	if allocs != 0 {
		t.Errorf("boxing 1..255 allocated %v times per run, want 0", allocs)
	}
	// The counter-check: the test can see an allocation.
	allocs = testing.AllocsPerRun(10, func() {
		sink = sink[:0]
		for i := 1; i < 256; i++ {
			sink = append(sink, box(float64(i)+0.5))
		}
	})
	if allocs == 0 {
		t.Error("boxing fractions did not allocate: the allocation count cannot fail")
	}
}
