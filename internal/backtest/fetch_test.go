package backtest_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/haproxy-agent/agent/internal/backtest"
	"github.com/haproxy-agent/agent/rules"
)

// recordingAPI answers range queries from synthAPI, records the ranges
// asked and the most queries in flight at once, and can hang until the
// query's context ends.
type recordingAPI struct {
	synthAPI
	hang     bool
	mu       sync.Mutex
	ranges   []v1.Range
	inFlight int
	most     int
}

func (r *recordingAPI) QueryRange(ctx context.Context, q string, rg v1.Range, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	r.mu.Lock()
	r.ranges = append(r.ranges, rg)
	r.inFlight++
	r.most = max(r.most, r.inFlight)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.inFlight--
		r.mu.Unlock()
	}()
	if r.hang {
		<-ctx.Done()
		return nil, nil, nil, ctx.Err()
	}
	time.Sleep(5 * time.Millisecond) // let queries overlap
	return r.synthAPI.QueryRange(ctx, q, rg, opts...)
}

// TestFetchChunks: a week at 15s is read in chunks of at most 10,000
// steps that cover every step once, with at most max_concurrency queries
// in flight, and a query both files make is read once.
func TestFetchChunks(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	r, err := backtest.NewRange(start, start.Add(7*24*time.Hour), 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	api := &recordingAPI{}
	src := &rules.Source{Name: "prom", Kind: rules.KindPrometheus, Config: &rules.PrometheusConfig{URL: "http://prom:9090", MaxConcurrency: 3}}
	fe := &backtest.Fetcher{Range: r, NewAPI: func(*rules.Source, int64) (v1.API, io.Closer, error) { return api, io.NopCloser(nil), nil }}
	var progress []int
	fe.Progress = func(done, total int) {
		if total != 20 {
			t.Errorf("progress total %d, want 20", total)
		}
		progress = append(progress, done)
	}
	qs := []backtest.Query{{Source: src, Expr: "m1"}, {Source: src, Expr: "m2"}, {Source: src, Expr: "m3"}, {Source: src, Expr: "m4"}, {Source: src, Expr: "m1"}}
	if err := fe.Fetch(context.Background(), qs); err != nil {
		t.Fatal(err)
	}
	if len(api.ranges) != 20 || fe.Queries != 20 || len(progress) != 20 {
		t.Errorf("%d range queries (counted %d, %d progress calls); want 4 queries × 5 chunks", len(api.ranges), fe.Queries, len(progress))
	}
	if api.most > 3 {
		t.Errorf("%d queries in flight; max_concurrency is 3", api.most)
	}
	for _, rg := range api.ranges {
		if n := rg.End.Sub(rg.Start) / rg.Step; n >= 10000 || rg.Step != 15*time.Second {
			t.Errorf("range %v to %v at %s: %d steps", rg.Start, rg.End, rg.Step, n+1)
		}
	}
	if h := fe.History(qs[0]); h == nil || h.Points() != 40320 || h.Series() != 1 {
		t.Errorf("history of m1: %v", h)
	}
	// Asked again (a baseline reading the same query): nothing is sent.
	if err := fe.Fetch(context.Background(), qs[:1]); err != nil || len(api.ranges) != 20 {
		t.Errorf("second fetch: %v, %d range queries", err, len(api.ranges))
	}
}

// TestFetchTimeout: a range query that does not answer fails within the
// timeout, saying so, and nothing half-read is kept.
func TestFetchTimeout(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	r, _ := backtest.NewRange(start, start.Add(time.Hour), 15*time.Second)
	api := &recordingAPI{hang: true}
	src := &rules.Source{Name: "prom", Kind: rules.KindPrometheus, Config: &rules.PrometheusConfig{URL: "http://prom:9090", MaxConcurrency: 8}}
	fe := &backtest.Fetcher{Range: r, Timeout: 50 * time.Millisecond,
		NewAPI: func(*rules.Source, int64) (v1.API, io.Closer, error) { return api, io.NopCloser(nil), nil }}
	q := backtest.Query{Source: src, Expr: "up"}
	err := fe.Fetch(context.Background(), []backtest.Query{q})
	if err == nil || !strings.Contains(err.Error(), `source "prom": range query "up" from 2026-11-01T00:00:00Z to 2026-11-01T00:59:45Z: timeout after 50ms`) {
		t.Errorf("fetch: %v", err)
	}
	if fe.History(q) != nil {
		t.Error("a failed query's history is kept")
	}
}
