package collect_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/haproxy-agent/agent/internal/collect"
	"github.com/haproxy-agent/agent/internal/source"
	"github.com/haproxy-agent/agent/rules"
)

// page10k is a 10,000-series page: 100 families of 100 series.
func page10k() []byte {
	var b bytes.Buffer
	for f := 0; f < 100; f++ {
		fmt.Fprintf(&b, "# HELP fam_%d_total Requests, family %d.\n# TYPE fam_%d_total counter\n", f, f, f)
		for s := 0; s < 100; s++ {
			fmt.Fprintf(&b, "fam_%d_total{instance=\"web-1\",path=\"/api/v1/item/%d\",code=\"%d\"} %d\n", f, s, 200+s%5*100, f*100+s)
		}
	}
	return b.Bytes()
}

// file50 declares 50 metrics on one scraped page: 40 single series, 5 sums
// over 20 series, 5 summed rates.
func file50(b testing.TB, url string) *rules.File {
	p := parser.NewParser(parser.Options{})
	f := &rules.File{Interval: time.Second, StaleAfter: 3 * time.Second}
	f.Sources = []*rules.Source{{Name: "app", Kind: rules.KindScrape, URL: url, Timeout: 2 * time.Second, BodyLimit: rules.DefaultBodyLimit}}
	add := func(name, sel string, agg rules.Aggregation, rate bool) {
		ms, err := p.ParseMetricSelector(sel)
		if err != nil {
			b.Fatal(err)
		}
		f.Metrics = append(f.Metrics, &rules.Metric{Name: name, Index: len(f.Metrics), Source: "app", Selector: sel, Matchers: ms, Aggregate: agg, Rate: rate})
	}
	for i := 0; i < 40; i++ {
		add(fmt.Sprintf("m%d", i), fmt.Sprintf(`fam_%d_total{path="/api/v1/item/%d"}`, i*2, i), "", false)
	}
	for i := 0; i < 10; i++ {
		add(fmt.Sprintf("agg%d", i), fmt.Sprintf(`fam_%d_total{code=~"5.."}`, 80+i), rules.AggSum, i >= 5)
	}
	return f
}

// BenchmarkCycle10k is one collection cycle: GET a 10,000-series page over
// loopback, parse it, select 50 metrics, build the evaluator's snapshot.
func BenchmarkCycle10k(b *testing.B) {
	body := page10k()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c, err := collect.New(file50(b, srv.URL), source.New)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		res := c.Collect(ctx, now)
		if !res.Sources[0].Up {
			b.Fatal(res.Sources[0].Err)
		}
		if snap := res.Snapshot(); snap["m3"].Value != 603 {
			b.Fatalf("m3 = %+v", snap["m3"])
		}
	}
}
