package statuspage

import (
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func TestSeriesWindow(t *testing.T) {
	h := NewHistory(time.Second) // step MinStep: 5s, 720 points
	if got := h.points(); got != 720 {
		t.Fatalf("points = %d, want 720", got)
	}
	// Two cycles in one step: the last wins. Then a gap of two steps.
	h.Record(t0, []Sample{{"a", 1}})
	h.Record(t0.Add(2*time.Second), []Sample{{"a", 2}})
	h.Record(t0.Add(15*time.Second), []Sample{{"a", 3}, {"b", math.NaN()}})
	vals := make([]float32, h.points())
	h.series["a"].window(t0.Add(15*time.Second).UnixNano()/int64(h.step), vals)
	tail := vals[len(vals)-4:]
	want := []float64{2, math.NaN(), math.NaN(), 3}
	for i, w := range want {
		if g := float64(tail[i]); !(g == w || math.IsNaN(g) && math.IsNaN(w)) {
			t.Errorf("window tail = %v, want %v", tail, want)
			break
		}
	}
	for _, v := range vals[:len(vals)-4] {
		if v == v {
			t.Fatalf("steps before the first value must be empty, got %v", v)
		}
	}
	sp, ok := h.Spark("a", t0.Add(15*time.Second))
	if !ok || sp.Min != 2 || sp.Max != 3 || !sp.HasLast || sp.Last != 3 || sp.empty() {
		t.Errorf("spark = %+v, %v", sp, ok)
	}
	if sp, ok := h.Spark("b", t0.Add(15*time.Second)); !ok || !sp.empty() || sp.HasLast {
		t.Errorf("a series of missing values must draw nothing: %+v, %v", sp, ok)
	}
	if _, ok := h.Spark("nope", t0); ok {
		t.Error("unknown key has a spark")
	}
	// The clock going back is ignored.
	h.Record(t0, []Sample{{"a", 99}})
	if sp, _ := h.Spark("a", t0.Add(15*time.Second)); sp.Max != 3 {
		t.Errorf("a sample from the past changed the chart: %+v", sp)
	}
}

func TestSeriesWrapAndPrune(t *testing.T) {
	h := NewHistory(MinStep)
	n := h.points()
	// Two hours of steps: only the last hour is kept.
	for i := range 2 * n {
		s := []Sample{{"a", float64(i)}}
		if i < n/2 {
			// Then "gone" stops being recorded (a reload removed it).
			s = append(s, Sample{"gone", 1})
		}
		h.Record(t0.Add(time.Duration(i)*MinStep), s)
	}
	end := t0.Add(time.Duration(2*n-1) * MinStep)
	if _, ok := h.series["gone"]; ok {
		t.Error("a series with no value left in the window was kept")
	}
	sp, _ := h.Spark("a", end)
	if sp.Min != float64(n) || sp.Max != float64(2*n-1) {
		t.Errorf("after wrapping: min %v max %v, want %d..%d", sp.Min, sp.Max, n, 2*n-1)
	}
	// A long silence empties the window.
	if sp, _ := h.Spark("a", end.Add(2*Window)); !sp.empty() {
		t.Errorf("a window with no value drew %+v", sp)
	}
	h.Record(end.Add(2*Window), []Sample{{"a", 1}})
	if sp, _ := h.Spark("a", end.Add(2*Window)); sp.Min != 1 || sp.Max != 1 {
		t.Errorf("after a long gap: %+v", sp)
	}

	h.SetStep(time.Minute)
	if len(h.series) != 0 || h.points() != 60 {
		t.Errorf("SetStep to a new step kept %d series, %d points", len(h.series), h.points())
	}
}

func TestChangesKeepsTheLast50NewestFirst(t *testing.T) {
	h := NewHistory(MinStep)
	if len(h.Changes()) != 0 {
		t.Fatal("new history has changes")
	}
	for i := range 3 {
		h.AddChange(Change{Target: fmt.Sprint(i)})
	}
	if got := h.Changes(); len(got) != 3 || got[0].Target != "2" || got[2].Target != "0" {
		t.Errorf("changes = %v", got)
	}
	for i := 3; i < 130; i++ {
		h.AddChange(Change{Target: fmt.Sprint(i)})
	}
	got := h.Changes()
	if len(got) != MaxChanges {
		t.Fatalf("%d changes kept, want %d", len(got), MaxChanges)
	}
	for i, c := range got {
		if want := fmt.Sprint(129 - i); c.Target != want {
			t.Fatalf("changes[%d] = %s, want %s", i, c.Target, want)
		}
	}
}

// TestHistoryMemory measures what the charts of 100 metrics (and 10
// services' weights) cost once the hour is full, and bounds it.
func TestHistoryMemory(t *testing.T) {
	const metrics, services = 100, 10
	samples := make([]Sample, 0, metrics+services)
	for i := range metrics {
		samples = append(samples, Sample{Key: MetricKey(fmt.Sprintf("metric_%03d", i))})
	}
	for i := range services {
		samples = append(samples, Sample{Key: WeightKey("service", fmt.Sprintf("svc%d", i))})
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h := NewHistory(2 * time.Second)
	// Two hours at a 2s interval: 3,600 cycles, more than the ring holds.
	for c := range 3600 {
		for i := range samples {
			samples[i].Value = float64(c + i)
		}
		h.Record(t0.Add(time.Duration(c)*2*time.Second), samples)
	}
	for c := range 200 {
		h.AddChange(Change{Time: t0, Target: "svc", From: "up ready 100%", To: fmt.Sprintf("up drain 100%% #queue_depth > %d", c), Why: "queue_depth > 500"})
	}
	// Each series keeps the chart it last drew.
	for _, s := range samples {
		if _, ok := h.Spark(s.Key, t0.Add(3600*2*time.Second)); !ok {
			t.Fatalf("no chart for %q", s.Key)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	used := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	runtime.KeepAlive(h)
	perSeries := used / (metrics + services)
	t.Logf("history of %d metrics + %d weights over %s at a %s step (%d points each): %d bytes on the heap, %d per series",
		metrics, services, Window, h.step, h.points(), used, perSeries)
	// 720 float32 per series is 2,880 bytes; allow for the map and headers.
	if used > 1<<20 {
		t.Errorf("history of 100 metrics uses %d bytes, want under 1 MiB", used)
	}
}

// TestReplySince: a target's reply is dated from its last change, or from
// when the agent first saw it (then marked as such); a target missing from
// an evaluation is forgotten.
func TestReplySince(t *testing.T) {
	h := NewHistory(MinStep)
	note := func(at time.Time, kv ...string) {
		h.NoteReplies(at, func(yield func(string, string) bool) {
			for i := 0; i < len(kv); i += 2 {
				if !yield(kv[i], kv[i+1]) {
					return
				}
			}
		})
	}
	note(t0, "web1", "up ready 100%\n", "web2", "up ready 100%\n")
	note(t0.Add(time.Minute), "web1", "up ready 100%\n", "web2", "up drain 100%\n")
	note(t0.Add(2*time.Minute), "web1", "up ready 100%\n", "web2", "up drain 100%\n")
	if since, start, ok := h.Since("web1"); !ok || !start || !since.Equal(t0) {
		t.Errorf("web1: since %v, start %v, %v; want t0 from the start", since, start, ok)
	}
	if since, start, ok := h.Since("web2"); !ok || start || !since.Equal(t0.Add(time.Minute)) {
		t.Errorf("web2: since %v, start %v, %v; want its change at t0+1m", since, start, ok)
	}
	note(t0.Add(3*time.Minute), "web2", "up drain 100%\n")
	if _, _, ok := h.Since("web1"); ok {
		t.Error("web1, gone from the evaluation, is still known")
	}
}
