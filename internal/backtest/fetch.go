package backtest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"

	"github.com/haproxy-agent/agent/internal/source"
	"github.com/haproxy-agent/agent/rules"
)

// Defaults of a Fetcher.
const (
	// DefaultQueryTimeout bounds one range query, far longer than a
	// source's timeout: a range query reads up to MaxPoints steps.
	DefaultQueryTimeout = time.Minute
	// DefaultBodyLimit caps one range query's response.
	DefaultBodyLimit = 512 << 20
)

// Query is one PromQL expression read from a prometheus source.
type Query struct {
	Source *rules.Source
	Expr   string
}

func (q Query) key() string {
	url := ""
	if c, ok := q.Source.Config.(*rules.PrometheusConfig); ok {
		url = c.URL
	}
	return q.Source.Name + "\x00" + url + "\x00" + q.Expr
}

// Fetcher reads histories with range queries, each range split in chunks
// below Prometheus' points-per-series limit, at most the source's
// max_concurrency queries in flight per source, each within Timeout. It
// keeps what it read by query, so that a rule file and its baseline share
// what both read. A Fetcher is used from one goroutine.
type Fetcher struct {
	Range Range
	// Timeout bounds one range query (default DefaultQueryTimeout).
	Timeout time.Duration
	// MaxPoints is the most steps one query asks for (default MaxPoints).
	MaxPoints int
	// BodyLimit caps one response (default DefaultBodyLimit).
	BodyLimit int64
	// Progress, when set, is told how many range queries are done of how
	// many, after each one; calls are serialized.
	Progress func(done, total int)
	// NewAPI builds a source's API client (default source.NewAPI).
	NewAPI func(src *rules.Source, limit int64) (v1.API, io.Closer, error)

	got      map[string]*History
	warnings []string
	// Queries counts the range queries sent.
	Queries int
}

// History returns what Fetch read for q, or nil.
func (f *Fetcher) History(q Query) *History { return f.got[q.key()] }

// Warnings are the distinct warnings Prometheus returned.
func (f *Fetcher) Warnings() []string { return f.warnings }

// Fetch reads every query not read yet. The first failure cancels the
// others and is returned.
func (f *Fetcher) Fetch(ctx context.Context, qs []Query) error {
	if f.got == nil {
		f.got = map[string]*History{}
	}
	timeout, maxPoints, limit, newAPI := f.Timeout, f.MaxPoints, f.BodyLimit, f.NewAPI
	if timeout <= 0 {
		timeout = DefaultQueryTimeout
	}
	if maxPoints <= 0 {
		maxPoints = MaxPoints
	}
	if limit <= 0 {
		limit = DefaultBodyLimit
	}
	if newAPI == nil {
		newAPI = source.NewAPI
	}
	bySource := map[*rules.Source][]Query{}
	var order []*rules.Source
	var added []string
	// Nothing half-read is kept; what earlier calls read stays.
	drop := func() {
		for _, k := range added {
			delete(f.got, k)
		}
	}
	for _, q := range qs {
		if _, ok := f.got[q.key()]; ok {
			continue
		}
		f.got[q.key()] = newHistory(f.Range)
		added = append(added, q.key())
		if bySource[q.Source] == nil {
			order = append(order, q.Source)
		}
		bySource[q.Source] = append(bySource[q.Source], q)
	}
	chunks := f.Range.Chunks(maxPoints)
	total := 0
	for _, src := range order {
		total += len(bySource[src]) * len(chunks)
	}
	var (
		mu       sync.Mutex // guards done, warnings and calls of Progress
		done     int
		warnings []string
	)
	apis := make([]v1.API, len(order))
	for i, src := range order {
		api, closer, err := newAPI(src, limit)
		if err != nil {
			drop()
			return fmt.Errorf("source %q: %w", src.Name, err)
		}
		defer closer.Close()
		apis[i] = api
	}
	// One group per source, within one that the first failure cancels:
	// each source has its own max_concurrency.
	g, gctx := errgroup.WithContext(ctx)
	for i, src := range order {
		api := apis[i]
		g.Go(func() error {
			sg, sctx := errgroup.WithContext(gctx)
			limit := 1
			if c, ok := src.Config.(*rules.PrometheusConfig); ok {
				limit = max(1, c.MaxConcurrency)
			}
			sg.SetLimit(limit)
			for _, q := range bySource[src] {
				h := f.got[q.key()]
				for _, c := range chunks {
					sg.Go(func() error {
						if err := sctx.Err(); err != nil {
							return err
						}
						r := v1.Range{Start: f.Range.At(c.First), End: f.Range.At(c.Last), Step: f.Range.Step}
						qctx, cancel := context.WithTimeout(sctx, timeout)
						defer cancel()
						val, warns, _, err := api.QueryRange(qctx, q.Expr, r, v1.WithTimeout(timeout))
						if err != nil {
							if qctx.Err() == context.DeadlineExceeded && sctx.Err() == nil {
								err = fmt.Errorf("timeout after %s", timeout)
							}
							return fmt.Errorf("source %q: range query %q from %s to %s: %w", src.Name, q.Expr,
								r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339), err)
						}
						m, ok := val.(model.Matrix)
						if !ok {
							return fmt.Errorf("source %q: range query %q returned a %s, not a matrix", src.Name, q.Expr, val.Type())
						}
						h.add(m)
						mu.Lock()
						defer mu.Unlock()
						warnings = append(warnings, warns...)
						done++
						if f.Progress != nil {
							f.Progress(done, total)
						}
						return nil
					})
				}
			}
			return sg.Wait()
		})
	}
	err := g.Wait()
	f.Queries += total
	slices.Sort(warnings)
	f.warnings = slices.Compact(append(f.warnings, warnings...))
	if err != nil {
		drop()
		return err
	}
	for _, k := range added {
		f.got[k].sort()
	}
	return nil
}
