package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haproxy-agent/agent/internal/override"
	"github.com/haproxy-agent/agent/internal/source"
	"github.com/haproxy-agent/agent/internal/testutil"
)

// cycleRules is a rule file of n rules over ten metrics of the page at url,
// plus the host's CPU and load; rule 0 always fires.
func cycleRules(url string, n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "interval: 2s\nsources:\n  app:\n    scrape: %s\n    timeout: 2s\nmetrics:\n", url)
	b.WriteString("  queue: app:jobs_queue_depth{queue=\"default\"}\n  cpu: host:cpu\n  load1: host:load1\n")
	for i := 0; i < 6; i++ {
		fmt.Fprintf(&b, "  item%d: app:app_family_%d_total{path=\"/api/v1/item/%d\"}\n", i, i*16, i*7)
	}
	b.WriteString(`  errors:
    source: app
    select: app_family_3_total{code=~"5.."}
    aggregate: sum
    rate: true
rules:
  - name: always
    when: queue >= 0
    weight: 90
`)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "  - item%d > 1e6 + %d && queue > %d || errors > 1e9 => weight %d%%\n", i%6, i, i, i%90+5)
	}
	return b.Bytes()
}

// BenchmarkCycle measures one whole evaluation cycle of `agent serve` as
// the loop runs it: read every source (a 10,000-series page from an
// httptest exporter, the host's counters), evaluate 100 rules, publish the
// reply table to the responder and the status for /status and /metrics.
func BenchmarkCycle(b *testing.B) {
	// The exporter's page: 100 families of 100 request counters (10,000
	// series) plus a queue gauge.
	page := append(testutil.Page10k("app_family", "Requests handled."),
		"# TYPE jobs_queue_depth gauge\njobs_queue_depth{queue=\"default\"} 42\n"...)
	url := testutil.ServePage(b, page)
	const n = 100
	a, err := newAgent(Options{
		DefaultRules: cycleRules(url, n),
		DefaultName:  "bench.yaml",
		NewReader:    source.New,
		Registry:     prometheus.NewRegistry(),
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer a.current().coll.Close()
	store, err := override.Open("", nil, override.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	a.overrides = store

	b.Run(fmt.Sprintf("series=10000/rules=%d", n), func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			a.cycle(ctx)
		}
		if got := a.status.Load().Services[0].Reply; got != "up ready 90% #always\n" {
			b.Fatalf("reply %q", got)
		}
	})
}
