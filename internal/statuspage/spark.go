package statuspage

import (
	"html/template"
	"strconv"
	"strings"
)

// The chart's drawing box, in SVG user units (whole numbers, cheap to
// print); the page scales it.
const (
	sparkWidth   = 2400
	sparkHeight  = 360
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
	sp, _ := drawSpark(vals, nil)
	return sp
}

// drawSpark is newSpark writing the path in scratch, which it returns for
// the next chart: the path is copied out once, at its final size.
func drawSpark(vals []float32, scratch []byte) (Spark, []byte) {
	var sp Spark
	if n := len(vals); n > 0 && vals[n-1] == vals[n-1] {
		sp.Last, sp.HasLast = float64(vals[n-1]), true
	}
	buckets := min(len(vals), sparkBuckets)
	// One pass: each column's range, and the whole window's.
	var cols [sparkBuckets]struct {
		lo, hi float32
		ok     bool
	}
	var glo, ghi float32
	seen := false
	for b := range buckets {
		c := &cols[b]
		for _, v := range vals[len(vals)*b/buckets : len(vals)*(b+1)/buckets] {
			if v != v {
				continue
			}
			if !c.ok {
				c.lo, c.hi, c.ok = v, v, true
			} else if v < c.lo {
				c.lo = v
			} else if v > c.hi {
				c.hi = v
			}
		}
		if !c.ok {
			continue
		}
		if !seen {
			glo, ghi, seen = c.lo, c.hi, true
		} else {
			glo, ghi = min(glo, c.lo), max(ghi, c.hi)
		}
	}
	if !seen {
		return sp, scratch
	}
	sp.Min, sp.Max = float64(glo), float64(ghi)
	y := func(v float32) int64 {
		if ghi == glo {
			return sparkHeight / 2
		}
		// A margin so that the stroke is not cut.
		return 20 + int64((sparkHeight-40)*(float64(ghi)-float64(v))/(float64(ghi)-float64(glo))+0.5)
	}
	d := pathWriter{buf: scratch[:0]}
	for b := range buckets {
		c := cols[b]
		if !c.ok {
			d.lift()
			continue
		}
		x := int64((2*b + 1) * sparkWidth / (2 * buckets))
		d.to(x, y(c.hi))
		if c.lo != c.hi {
			d.to(x, y(c.lo))
		}
	}
	d.lift()
	sp.Path = string(d.buf)
	return sp, d.buf
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

// SVG returns the chart as inline SVG with its range printed beside it.
// It is built in Go, not in the template, because a page draws a hundred
// of them; nothing in it comes from outside: the path holds only commands
// and whole numbers, and the rest are numbers formatted here.
func (sp Spark) SVG() template.HTML {
	var b strings.Builder
	b.Grow(len(sp.Path) + 220)
	sp.writeSVG(&b)
	return template.HTML(b.String())
}

func (sp Spark) writeSVG(b *strings.Builder) {
	lo, hi := formatNumber(sp.Min), formatNumber(sp.Max)
	b.WriteString(`<svg class="spark" viewBox="0 0 2400 360" preserveAspectRatio="none" role="img" aria-label="min `)
	b.WriteString(lo)
	b.WriteString(`, max `)
	b.WriteString(hi)
	b.WriteString(`"><path d="`)
	b.WriteString(sp.Path)
	b.WriteString(`"/></svg><span class="spark-range">`)
	b.WriteString(lo)
	b.WriteString("–")
	b.WriteString(hi)
	b.WriteString(`</span>`)
}
