package statuspage

import (
	"io"
	"testing"
	"time"
)

// BenchmarkRender renders the page of two services with 100 rules in all
// but two, 100 metrics with an hour of history each, and 50 reply
// changes, as page loads within one step do (the charts are drawn once).
func BenchmarkRender(b *testing.B) {
	p := testPage(t0, 100)
	h := New(Options{Page: func() *Page { return p }, History: fullHistory(p), Overrides: &fakeOverrides{}})
	b.ReportAllocs()
	for b.Loop() {
		if err := h.render(io.Discard, p, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderNewStep is BenchmarkRender with every chart drawn again,
// as on the first load after a step.
func BenchmarkRenderNewStep(b *testing.B) {
	p := testPage(t0, 100)
	h := New(Options{Page: func() *Page { return p }, History: fullHistory(p), Overrides: &fakeOverrides{}})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		p.Now = t0.Add(time.Duration(i%2) * MinStep)
		if err := h.render(io.Discard, p, nil); err != nil {
			b.Fatal(err)
		}
	}
}
