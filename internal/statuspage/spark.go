package statuspage

import (
	"math"
	"strconv"
)

// The chart's drawing box, in SVG user units; the page scales it.
const (
	sparkWidth   = 240
	sparkHeight  = 36
	sparkBuckets = 120
)

// Spark is one small chart: an SVG path over the window, and the figures
// printed beside it.
type Spark struct {
	// Path is the SVG path data ("M x y L x y ..."); a step without a value
	// breaks the line. Empty when there is no value at all.
	Path string
	// Min and Max bound the values in the window; Last is the newest value.
	Min, Max, Last float64
	// HasLast says whether the newest step has a value.
	HasLast bool
}

// newSpark draws vals (oldest first, NaN for none) into at most
// sparkBuckets columns; each column keeps its smallest and largest value,
// so that a spike shorter than a column still shows.
func newSpark(vals []float32) Spark {
	sp := Spark{Min: math.Inf(1), Max: math.Inf(-1)}
	for _, v := range vals {
		if v == v {
			sp.Min = min(sp.Min, float64(v))
			sp.Max = max(sp.Max, float64(v))
		}
	}
	if n := len(vals); n > 0 && vals[n-1] == vals[n-1] {
		sp.Last, sp.HasLast = float64(vals[n-1]), true
	}
	if math.IsInf(sp.Min, 1) {
		sp.Min, sp.Max = 0, 0
		return sp
	}
	buckets := min(len(vals), sparkBuckets)
	y := func(v float64) float64 {
		if sp.Max == sp.Min {
			return sparkHeight / 2
		}
		// 2 units of margin so that the stroke is not cut.
		return 2 + (sparkHeight-4)*(sp.Max-v)/(sp.Max-sp.Min)
	}
	buf := make([]byte, 0, buckets*24)
	pen := false
	for b := range buckets {
		lo, hi := len(vals)*b/buckets, len(vals)*(b+1)/buckets
		bmin, bmax, any := math.Inf(1), math.Inf(-1), false
		for _, v := range vals[lo:hi] {
			if v == v {
				bmin, bmax, any = min(bmin, float64(v)), max(bmax, float64(v)), true
			}
		}
		if !any {
			pen = false
			continue
		}
		x := (float64(b) + 0.5) * sparkWidth / float64(buckets)
		buf = point(buf, !pen, x, y(bmax))
		if bmin != bmax {
			buf = point(buf, false, x, y(bmin))
		}
		pen = true
	}
	sp.Path = string(buf)
	return sp
}

func point(buf []byte, move bool, x, y float64) []byte {
	if len(buf) > 0 {
		buf = append(buf, ' ')
	}
	if move {
		buf = append(buf, 'M')
	} else {
		buf = append(buf, 'L')
	}
	buf = strconv.AppendFloat(buf, x, 'f', 1, 64)
	buf = append(buf, ' ')
	buf = strconv.AppendFloat(buf, y, 'f', 1, 64)
	if move {
		// A run of one point would draw nothing: give it a dot's length.
		buf = append(buf, " l0.1 0"...)
	}
	return buf
}
