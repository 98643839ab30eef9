package evaluator

import "math"

// smallFloats holds the whole numbers 1 to 255 as float64, boxed once.
// Metrics are often counts, flags and whole percents; a fleet boxes one
// value per server and metric whenever it changes, and each box is an
// allocation (Go only keeps static boxes for values whose bits are below
// 256, which among floats is just +0).
var smallFloats = func() (a [256]any) {
	for i := range a {
		a[i] = float64(i)
	}
	return a
}()

// box returns v as the expression environment holds it, without
// allocating for a whole number from 1 to 255. The value is the same
// float64, bit for bit, either way.
func box(v float64) any {
	if v >= 1 && v < 256 && v == math.Trunc(v) {
		return smallFloats[int(v)]
	}
	return v
}
