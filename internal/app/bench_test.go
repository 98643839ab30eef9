package app

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haproxy-agent/agent/internal/override"
	"github.com/haproxy-agent/agent/internal/source"
	"github.com/haproxy-agent/agent/internal/testutil"
)

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
		DefaultRules: testutil.RuleFile10k(url, n),
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
