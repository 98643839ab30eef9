package statuspage

import (
	"html/template"
	"math"
	"strconv"
	"strings"
)

// The plot's drawing box, in SVG user units (whole numbers, cheap to
// print); the page stretches it to the chart's width. Labels are HTML
// beside it, so that they keep their size at any width.
const (
	plotWidth  = 2400
	plotHeight = 360
	// sparkBuckets is how many columns a chart has at most.
	sparkBuckets = 120
)

// Spark is one series' window reduced to the chart's columns: each column
// keeps the smallest and largest value of its steps, so that a spike
// shorter than a column still shows.
type Spark struct {
	// lo and hi are each column's range; NaN for a column without value.
	// n is how many columns are used: the window's steps, at most
	// sparkBuckets.
	lo, hi [sparkBuckets]float32
	n      int
	// Min and Max bound the finite values in the window; Any says whether
	// there is one. Last is the newest value, when HasLast.
	Min, Max, Last float64
	Any, HasLast   bool
}

// newSpark reduces vals (the window, oldest first, NaN for a step without
// value) to columns.
func newSpark(vals []float32) Spark {
	var sp Spark
	if n := len(vals); n > 0 && vals[n-1] == vals[n-1] {
		sp.Last, sp.HasLast = float64(vals[n-1]), true
	}
	sp.n = min(len(vals), sparkBuckets)
	for b := range sp.n {
		lo, hi := nan32, nan32
		for _, v := range vals[len(vals)*b/sp.n : len(vals)*(b+1)/sp.n] {
			if v != v {
				continue
			}
			if lo != lo {
				lo, hi = v, v
			} else if v < lo {
				lo = v
			} else if v > hi {
				hi = v
			}
		}
		sp.lo[b], sp.hi[b] = lo, hi
		for _, v := range [2]float32{lo, hi} {
			if v != v || math.IsInf(float64(v), 0) {
				continue
			}
			if !sp.Any {
				sp.Min, sp.Max, sp.Any = float64(v), float64(v), true
			} else {
				sp.Min, sp.Max = min(sp.Min, float64(v)), max(sp.Max, float64(v))
			}
		}
	}
	return sp
}

// empty says whether the window holds no value at all.
func (sp *Spark) empty() bool {
	for b := range sp.n {
		if sp.lo[b] == sp.lo[b] {
			return false
		}
	}
	return true
}

// Axis is the value range a chart's height shows, bottom to top.
type Axis struct {
	Lo, Hi float64
	// Percent prints the labels as percents (weights).
	Percent bool
}

// MetricAxis is the range of a metric's chart: it holds the window's
// values and the thresholds drawn, starting from zero for a metric that
// is never negative, so that noise around a level is not drawn as swings:
// 0–1 when everything lies within it (ratios), -1–1 likewise, else 0 (or
// the lowest value) up to a round number (1, 2, 2.5 or 5 times a power of
// ten) above the highest.
func MetricAxis(sp Spark, thresholds []Threshold) Axis {
	lo, hi, any := sp.Min, sp.Max, sp.Any
	for _, t := range thresholds {
		if math.IsInf(t.Value, 0) || math.IsNaN(t.Value) {
			continue
		}
		if !any {
			lo, hi, any = t.Value, t.Value, true
		}
		lo, hi = min(lo, t.Value), max(hi, t.Value)
	}
	switch {
	case !any || lo >= 0 && hi <= 1:
		return Axis{Lo: 0, Hi: 1}
	case lo >= -1 && hi <= 1:
		return Axis{Lo: -1, Hi: 1}
	case lo >= 0:
		return Axis{Lo: 0, Hi: niceCeil(hi)}
	case hi <= 0:
		return Axis{Lo: -niceCeil(-lo), Hi: 0}
	}
	return Axis{Lo: -niceCeil(-lo), Hi: niceCeil(hi)}
}

// WeightAxis is the range of a weight chart: 0–100%, or up to HAProxy's
// largest weight, 256%, when the window went above 100%.
func WeightAxis(sp Spark) Axis {
	if sp.Any && sp.Max > 100 {
		return Axis{Lo: 0, Hi: 256, Percent: true}
	}
	return Axis{Lo: 0, Hi: 100, Percent: true}
}

// niceCeil is the smallest of 1, 2, 2.5 and 5 times a power of ten that is
// at least v; 1 for v ≤ 0.
func niceCeil(v float64) float64 {
	if !(v > 0) || math.IsInf(v, 0) {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*e >= v*(1-1e-12) {
			return m * e
		}
	}
	return 10 * e
}

func (a Axis) label(v float64) string {
	if a.Percent {
		return formatNumber(v) + "%"
	}
	return formatNumber(v)
}

// y is the plot coordinate of v, clamped to the frame (an infinite value
// sits on its edge).
func (a Axis) y(v float32) int64 {
	f := plotHeight * (a.Hi - float64(v)) / (a.Hi - a.Lo)
	switch {
	case math.IsNaN(f) || f < 0:
		return 0
	case f > plotHeight:
		return plotHeight
	}
	return int64(f + 0.5)
}

// path is the SVG path of sp on axis a: a column without value breaks the
// line, a column whose steps differ draws its range.
func (sp *Spark) path(a Axis, scratch []byte) []byte {
	d := pathWriter{buf: scratch[:0]}
	for b := range sp.n {
		if sp.lo[b] != sp.lo[b] {
			d.lift()
			continue
		}
		x := int64((2*b + 1) * plotWidth / (2 * sp.n))
		d.to(x, a.y(sp.hi[b]))
		if sp.lo[b] != sp.hi[b] {
			d.to(x, a.y(sp.lo[b]))
		}
	}
	d.lift()
	return d.buf
}

// The reply states a chart shades, as a state series records them.
const (
	stateIn       = 0
	stateDraining = 1
	stateOut      = 2
)

// shade is the SVG path of the column runs whose state (the largest of
// their steps) is want.
func (sp *Spark) shade(want float32, b *strings.Builder) {
	start := -1
	for c := 0; c <= sp.n; c++ {
		in := c < sp.n && sp.hi[c] == want
		switch {
		case in && start < 0:
			start = c
		case !in && start >= 0:
			x0, x1 := start*plotWidth/sp.n, c*plotWidth/sp.n
			b.WriteByte('M')
			b.WriteString(strconv.Itoa(x0))
			b.WriteString(" 0H")
			b.WriteString(strconv.Itoa(x1))
			b.WriteString("V" + strconv.Itoa(plotHeight) + "H")
			b.WriteString(strconv.Itoa(x0))
			b.WriteByte('Z')
			start = -1
		}
	}
}

// pathWriter writes SVG path data, leaving out the inner points of
// horizontal runs (most charts are mostly flat).
type pathWriter struct {
	buf []byte
	// down says a line is being drawn, of count points; px, py is the last
	// point written; held says a horizontal run goes on to hx, unwritten.
	down   bool
	count  int
	px, py int64
	held   bool
	hx     int64
}

func (w *pathWriter) to(x, y int64) {
	switch {
	case !w.down:
		w.write('M', x, y)
		w.down, w.count = true, 1
	case y == w.py:
		w.held, w.hx = true, x
		w.count++
	default:
		w.flush()
		w.write('L', x, y)
		w.count++
	}
}

// flush writes the end of a pending horizontal run.
func (w *pathWriter) flush() {
	if w.held {
		w.write('L', w.hx, w.py)
		w.held = false
	}
}

// lift ends the line: a gap follows. A line of one point gets a dot's
// length, or it would not show.
func (w *pathWriter) lift() {
	if !w.down {
		return
	}
	if w.count == 1 {
		w.buf = append(w.buf, " l1 0"...)
	}
	w.flush()
	w.down, w.count = false, 0
}

func (w *pathWriter) write(cmd byte, x, y int64) {
	if len(w.buf) > 0 {
		w.buf = append(w.buf, ' ')
	}
	w.buf = append(w.buf, cmd)
	w.buf = strconv.AppendInt(w.buf, x, 10)
	w.buf = append(w.buf, ' ')
	w.buf = strconv.AppendInt(w.buf, y, 10)
	w.px, w.py = x, y
}

// timeLabels are the x axis' labels, at 0, 50%, 75% and 100% of the
// window's width (the CSS places them), and gridX the matching lines.
var timeLabels = [...]string{"−1h", "−30m", "−15m", "now"}

const gridX = "M1200 0V360M1800 0V360M0 180H2400"

// chart is what one chart draws: a series on an axis, the thresholds as
// dashed lines, and, for a weight, the state series whose drains and
// outages shade its columns.
type chart struct {
	sp         *Spark
	axis       Axis
	thresholds []Threshold
	state      *Spark
	// label names the chart for screen readers.
	label string
}

// write writes the chart as HTML: the y labels, the framed SVG plot and
// the time labels. Nothing in it comes from outside but the label, which
// is escaped: the paths hold only commands and whole numbers.
func (c chart) write(b *strings.Builder, scratch []byte) []byte {
	a := c.axis
	b.WriteString(`<div class="chart"><div class="yl"><span>`)
	b.WriteString(a.label(a.Hi))
	b.WriteString(`</span><span>`)
	b.WriteString(a.label((a.Lo + a.Hi) / 2))
	b.WriteString(`</span><span>`)
	b.WriteString(a.label(a.Lo))
	b.WriteString(`</span></div><svg class="plot" viewBox="0 0 2400 360" preserveAspectRatio="none" role="img" aria-label="`)
	template.HTMLEscape(b, []byte(c.label))
	b.WriteString(`">`)
	if c.state != nil {
		for _, s := range [...]struct {
			class string
			state float32
		}{{"drain", stateDraining}, {"outage", stateOut}} {
			var d strings.Builder
			c.state.shade(s.state, &d)
			if d.Len() > 0 {
				b.WriteString(`<path class="` + s.class + `" d="`)
				b.WriteString(d.String())
				b.WriteString(`"/>`)
			}
		}
	}
	b.WriteString(`<path class="grid" d="` + gridX + `"/>`)
	for _, t := range c.thresholds {
		y := a.y(float32(t.Value))
		b.WriteString(`<path class="threshold" d="M0 `)
		b.WriteString(strconv.FormatInt(y, 10))
		b.WriteString(`H2400"/>`)
	}
	scratch = c.sp.path(a, scratch)
	if len(scratch) > 0 {
		b.WriteString(`<path class="line" d="`)
		b.Write(scratch)
		b.WriteString(`"/>`)
	}
	b.WriteString(`</svg><div class="xl">`)
	for _, l := range timeLabels {
		b.WriteString(`<span>`)
		b.WriteString(l)
		b.WriteString(`</span>`)
	}
	b.WriteString(`</div></div>`)
	return scratch
}
