package statuspage

import (
	"bytes"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time so far. The benchmarks
// report it per op beside the wall time, which a loaded shared machine
// inflates with the time spent waiting for a core.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRender renders the page of two services with 100 rules in all
// but two, 100 metrics with an hour of history each, and 50 reply
// changes, as page loads within one step do (the charts are drawn once).
func BenchmarkRender(b *testing.B) {
	p := testPage(t0, 100)
	h := New(Options{Page: func(string) *Page { return p }, History: fullHistory(p), Overrides: &fakeOverrides{}})
	b.ReportAllocs()
	cpu := cpuTime(b)
	for b.Loop() {
		if err := h.render(io.Discard, p, query{}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkRenderNewStep is BenchmarkRender with every chart drawn again,
// as on the first load after a step.
func BenchmarkRenderNewStep(b *testing.B) {
	p := testPage(t0, 100)
	h := New(Options{Page: func(string) *Page { return p }, History: fullHistory(p), Overrides: &fakeOverrides{}})
	b.ReportAllocs()
	i := 0
	cpu := cpuTime(b)
	for b.Loop() {
		i++
		p.Now = t0.Add(time.Duration(i%2) * MinStep)
		if err := h.render(io.Discard, p, query{}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkRenderFleet renders the fleet page (summary, the first 500
// lines of the table, no card) of 100 and of 10,000 servers, ten rules
// each, out of rotation first; and with a filter over every server.
func BenchmarkRenderFleet(b *testing.B) {
	for _, n := range []int{100, 10000} {
		for _, q := range []struct {
			name string
			q    query
		}{{"default", query{}}, {"filter", query{Filter: "queue_depth", Sort: "reason"}}} {
			b.Run(fmt.Sprintf("servers=%d/%s", n, q.name), func(b *testing.B) {
				p := fleetPage(n, t0)
				h := New(Options{Page: func(string) *Page { return p }, History: fullHistory(p)})
				var size int
				b.ReportAllocs()
				cpu := cpuTime(b)
				for b.Loop() {
					var buf bytes.Buffer
					if err := h.render(&buf, p, q.q, nil); err != nil {
						b.Fatal(err)
					}
					size = buf.Len()
				}
				b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(size), "page-bytes")
			})
		}
	}
}

// BenchmarkNewFleet builds the fleet's table of 10,000 servers, as the
// first page load after each evaluation does.
func BenchmarkNewFleet(b *testing.B) {
	ds, g := testFleet(10000, t0)
	since := func(string) (time.Time, bool, bool) { return t0, false, true }
	b.ReportAllocs()
	for b.Loop() {
		NewFleet(ds, g, t0, since)
	}
}
