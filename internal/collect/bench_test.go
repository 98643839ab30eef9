package collect_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/haproxy-agent/agent/internal/collect"
	"github.com/haproxy-agent/agent/internal/source"
	"github.com/haproxy-agent/agent/internal/testutil"
	"github.com/haproxy-agent/agent/rules"
)

// file50 declares 50 metrics on one scraped testutil.Page10k("fam", ...):
// 40 single series, 5 sums over 20 series, 5 summed rates.
func file50(b testing.TB, url string) *rules.File {
	p := parser.NewParser(parser.Options{})
	f := &rules.File{Interval: time.Second, StaleAfter: 3 * time.Second}
	f.Sources = []*rules.Source{{Name: "app", Kind: rules.KindScrape, Timeout: 2 * time.Second, Config: &rules.ScrapeConfig{URL: url, BodyLimit: rules.DefaultBodyLimit}}}
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
	body := testutil.Page10k("fam", "Requests, family %d.")
	c, err := collect.New(file50(b, testutil.ServePage(b, body)), source.New)
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
		if m := res.Metric("m3"); m.Value != 603 {
			b.Fatalf("m3 = %+v", m)
		}
	}
}

// TestScrapedTimestampStale: through a real scrape reader, a sample whose
// page timestamp is older than stale_after is missing as stale; the fresh
// one beside it is read.
func TestScrapedTimestampStale(t *testing.T) {
	page := fmt.Sprintf("fresh_gauge 1\nold_gauge 2 %d\n", time.Now().Add(-time.Minute).UnixMilli())
	f := file50(t, testutil.ServePage(t, []byte(page)))
	p := parser.NewParser(parser.Options{})
	f.Metrics = nil
	for _, name := range []string{"fresh_gauge", "old_gauge"} {
		ms, err := p.ParseMetricSelector(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Metrics = append(f.Metrics, &rules.Metric{Name: name, Index: len(f.Metrics), Source: "app", Selector: name, Matchers: ms})
	}
	c, err := collect.New(f, source.New)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res := c.Collect(context.Background(), time.Now())
	if m := res.Metric("fresh_gauge"); m.Value != 1 || m.Missing != "" {
		t.Errorf("fresh: %+v", m)
	}
	if m := res.Metric("old_gauge"); !strings.HasPrefix(m.Missing, "stale: sample timestamp 1m0") {
		t.Errorf("old: %+v; want stale", m)
	}
}
