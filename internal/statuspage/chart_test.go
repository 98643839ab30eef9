package statuspage

import (
	"math"
	"strings"
	"testing"
)

// path01 draws vals on a 0–10 axis: y 360 is 0, y 0 is 10.
func path01(vals []float32) string {
	sp := newSpark(vals)
	return string(sp.path(Axis{Lo: 0, Hi: 10}, nil))
}

func TestChartPath(t *testing.T) {
	n := float32(math.NaN())
	for _, tc := range []struct {
		name string
		vals []float32
		want string
	}{
		{"empty", []float32{n, n, n}, ""},
		{"one point", []float32{n, 5, n}, "M1200 180 l1 0"},
		{"flat run keeps its ends", []float32{1, 1, 1, 1}, "M300 324 L2100 324"},
		{"up then flat", []float32{0, 10, 10, 10}, "M300 360 L900 0 L2100 0"},
		{"gap breaks the line", []float32{0, n, 10, 10}, "M300 360 l1 0 M1500 0 L2100 0"},
		{"infinity sits on the frame", []float32{float32(math.Inf(1)), float32(math.Inf(-1))}, "M600 0 L1800 360"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := path01(tc.vals); got != tc.want {
				t.Errorf("path = %q, want %q", got, tc.want)
			}
		})
	}
	// 720 steps fall into 120 columns, each with its smallest and largest
	// value: a one-step spike still shows.
	vals := make([]float32, 720)
	vals[301] = 10
	sp := newSpark(vals)
	if sp.Max != 10 || sp.Min != 0 || sp.Last != 0 || !sp.HasLast {
		t.Errorf("spark = %+v", sp)
	}
	if want := "M10 360 L990 360 L1010 0 L1010 360 L2390 360"; string(sp.path(Axis{Lo: 0, Hi: 10}, nil)) != want {
		t.Errorf("spike path = %q, want %q", sp.path(Axis{Lo: 0, Hi: 10}, nil), want)
	}
}

// TestShortDataInItsPlace: two minutes of values in an hour's window are
// drawn at the right end of the chart, where they happened, not stretched
// over its width.
func TestShortDataInItsPlace(t *testing.T) {
	vals := make([]float32, 720)
	for i := range vals {
		vals[i] = nan32
	}
	for i := 720 - 24; i < 720; i++ { // 24 steps of 5s: two minutes
		vals[i] = 1
	}
	p := string(func() []byte { sp := newSpark(vals); return sp.path(Axis{Lo: 0, Hi: 2}, nil) }())
	if want := "M2330 180 L2390 180"; p != want {
		t.Errorf("two minutes drawn as %q, want %q (the last 1/30 of the width)", p, want)
	}
}

func TestAxes(t *testing.T) {
	spark := func(vs ...float32) Spark { return newSpark(vs) }
	for _, tc := range []struct {
		name  string
		sp    Spark
		marks []Threshold
		want  Axis
	}{
		{"a ratio near 1 is drawn on 0–1, not as swings", spark(0.9973, 1, 0.998), nil, Axis{Lo: 0, Hi: 1}},
		{"no value", spark(nan32), nil, Axis{Lo: 0, Hi: 1}},
		{"a ratio with its threshold", spark(0.2, 0.3), []Threshold{{Value: 0.9}}, Axis{Lo: 0, Hi: 1}},
		{"counts from zero to a round number", spark(420, 433), nil, Axis{Lo: 0, Hi: 500}},
		{"a far threshold shows", spark(3, 4), []Threshold{{Value: 500}}, Axis{Lo: 0, Hi: 500}},
		{"2.5 steps", spark(180, 230), nil, Axis{Lo: 0, Hi: 250}},
		{"small signed values", spark(-0.2, 0.4), nil, Axis{Lo: -1, Hi: 1}},
		{"negative", spark(-30, -12), nil, Axis{Lo: -50, Hi: 0}},
		{"both signs", spark(-3, 17), nil, Axis{Lo: -5, Hi: 20}},
		{"infinity is left out of the range", spark(float32(math.Inf(1)), 3), nil, Axis{Lo: 0, Hi: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MetricAxis(tc.sp, tc.marks); got != tc.want {
				t.Errorf("axis = %+v, want %+v", got, tc.want)
			}
		})
	}
	if a := WeightAxis(spark(0, 100, 50)); a != (Axis{0, 100, true}) {
		t.Errorf("weight axis = %+v", a)
	}
	if a := WeightAxis(spark(100, 150)); a != (Axis{0, 256, true}) {
		t.Errorf("weight axis over 100%% = %+v", a)
	}
}

// TestChartHTML: a chart is framed, labelled on both axes, draws its
// thresholds and shades the drains and outages of its state series.
func TestChartHTML(t *testing.T) {
	vals := make([]float32, 720)
	state := make([]float32, 720)
	for i := range vals {
		vals[i] = 100
		if i >= 360 && i < 540 {
			vals[i], state[i] = 0, stateDraining
		}
		if i >= 540 && i < 600 {
			vals[i], state[i] = 0, stateOut
		}
	}
	sp, st := newSpark(vals), newSpark(state)
	var b strings.Builder
	chart{sp: &sp, axis: WeightAxis(sp), state: &st, label: `web <1>`}.write(&b, nil)
	html := b.String()
	for _, want := range []string{
		`<span>100%</span><span>50%</span><span>0%</span>`,
		`<span>−1h</span><span>−30m</span><span>−15m</span><span>now</span>`,
		`<path class="drain" d="M1200 0H1800V360H1200Z"/>`,
		`<path class="outage" d="M1800 0H2000V360H1800Z"/>`,
		`aria-label="web &lt;1&gt;"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("chart lacks %s:\n%s", want, html)
		}
	}
	sp = newSpark([]float32{0.2, 0.5})
	b.Reset()
	chart{sp: &sp, axis: MetricAxis(sp, []Threshold{{Value: 0.9}, {Value: 0.5}}), thresholds: []Threshold{{Value: 0.9}, {Value: 0.5}}}.write(&b, nil)
	for _, want := range []string{`<path class="threshold" d="M0 36H2400"/>`, `<path class="threshold" d="M0 180H2400"/>`, `<span>1</span><span>0.5</span><span>0</span>`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("chart lacks %s:\n%s", want, b.String())
		}
	}
}
