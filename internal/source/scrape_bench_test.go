package source

import (
	"bytes"
	"context"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/haproxy-agent/agent/internal/testutil"
	"github.com/haproxy-agent/agent/rules"
)

// BenchmarkScrape measures reading ten metrics from a page of 10,000
// series. "expfmt" is a reference: prometheus/common's text parser
// building every series. "parse" is this package's parser alone
// (Prometheus' textparse, labels built only for the series a metric may
// select); "read" is a whole Read from an httptest exporter: GET, parse and
// select.
func BenchmarkScrape(b *testing.B) {
	// 10,000 request counters by path and code plus a queue gauge without
	// HELP or TYPE.
	body := append(testutil.Page10k("app_family", "Requests handled, family %d."),
		"jobs_queue_depth{queue=\"default\"} 42\n"...)
	f, err := rules.Parse(testutil.RuleFile10k(testutil.ServePage(b, body), 1), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	// The ten metrics of the page; the file's host metrics are not read here.
	var metrics []*rules.Metric
	for _, m := range f.Metrics {
		if m.Source == "app" {
			metrics = append(metrics, m)
		}
	}
	if len(metrics) != 10 {
		b.Fatalf("%d metrics on the page, want 10", len(metrics))
	}

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
