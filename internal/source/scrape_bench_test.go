package source

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/haproxy-agent/agent/rules"
)

// benchPage is an exporter page of families x perFamily series in the
// Prometheus text format, HELP and TYPE lines included: request counters by
// path and code, the shape of a busy application's /metrics.
func benchPage(families, perFamily int) []byte {
	var b bytes.Buffer
	for f := 0; f < families; f++ {
		fmt.Fprintf(&b, "# HELP app_family_%d_total Requests handled, family %d.\n# TYPE app_family_%d_total counter\n", f, f, f)
		for s := 0; s < perFamily; s++ {
			fmt.Fprintf(&b, "app_family_%d_total{instance=\"web-1\",path=\"/api/v1/item/%d\",code=\"%d\"} %d\n",
				f, s, 200+s%5*100, f*perFamily+s)
		}
	}
	b.WriteString("jobs_queue_depth{queue=\"default\"} 42\n")
	return b.Bytes()
}

// benchRuleFile declares ten metrics on a scraped page: exact series,
// regexp selectors summed over many series, and a counter rate.
func benchRuleFile(url string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "sources:\n  app:\n    scrape: %s\n    timeout: 2s\nmetrics:\n", url)
	b.WriteString("  queue: app:jobs_queue_depth{queue=\"default\"}\n")
	for i := 0; i < 6; i++ {
		fmt.Fprintf(&b, "  item%d: app:app_family_%d_total{path=\"/api/v1/item/%d\"}\n", i, i*16, i*7)
	}
	b.WriteString(`  errors:
    source: app
    select: app_family_3_total{code=~"5.."}
    aggregate: sum
  errors_rate:
    source: app
    select: app_family_4_total{code=~"5.."}
    aggregate: sum
    rate: true
  requests:
    source: app
    select: app_family_99_total
    aggregate: count
rules:
  - queue > 500 => drain
`)
	return b.Bytes()
}

// BenchmarkScrape measures reading ten metrics from a page of 10,000
// series. "expfmt" is the reference: Prometheus' own text parser building
// every series. "parse" is this package's filtering parser alone; "read"
// is a whole Read from an httptest exporter: GET, parse and select.
func BenchmarkScrape(b *testing.B) {
	body := benchPage(100, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	f, err := rules.Parse(benchRuleFile(srv.URL), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	metrics := f.Metrics

	b.Run("series=10000/expfmt", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		p := expfmt.NewTextParser(model.UTF8Validation)
		for b.Loop() {
			fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
			if err != nil || len(fams) != 101 {
				b.Fatalf("%d families, err %v", len(fams), err)
			}
		}
	})
	b.Run("series=10000/parse", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		p := newPage()
		for b.Loop() {
			if _, err := p.parse(body, false, metrics); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("series=10000/read", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		r, err := New(f.Source("app"))
		if err != nil {
			b.Fatal(err)
		}
		defer closeReader(r)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			out, err := r.Read(ctx, metrics)
			if err != nil {
				b.Fatal(err)
			}
			if out[0].Err != nil || out[0].Value != 42 {
				b.Fatalf("queue: %v, %v", out[0].Value, out[0].Err)
			}
		}
	})
}

func closeReader(r any) {
	if c, ok := r.(interface{ Close() error }); ok {
		_ = c.Close()
	}
}
