package backtest_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/backtest"
	"github.com/haproxy-agent/agent/rules"
)

var metricRe = regexp.MustCompile(`\bm(\d+)\b`)

// synthAPI answers range queries from a formula, without Prometheus: the
// benchmarks measure the replay, not the reads. A query "mN" or
// "max by (instance) (mN)" gives a wave per series; servers names the series of
// the second.
type synthAPI struct {
	v1.API
	servers int
}

func (s synthAPI) QueryRange(_ context.Context, q string, r v1.Range, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	var phase int
	n, _ := strconv.Atoi(metricRe.FindStringSubmatch(q)[1])
	var names []string
	if strings.Contains(q, "by") {
		for i := range s.servers {
			names = append(names, fmt.Sprintf("web%03d", i))
		}
	} else {
		names = []string{""}
	}
	var m model.Matrix
	for _, name := range names {
		phase++
		ss := &model.SampleStream{Metric: model.Metric{}}
		if name != "" {
			ss.Metric["instance"] = model.LabelValue(name)
		}
		for t := r.Start; !t.After(r.End); t = t.Add(r.Step) {
			// A wave of period 2h per metric, crossing 900 a few times a
			// day: rules fire, pend and resolve.
			x := 500 + 500*math.Sin(float64(t.Unix())/float64(3600+n*600)+float64(phase))
			ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(t.UnixNano()), Value: model.SampleValue(x)})
		}
		m = append(m, ss)
	}
	return m, nil, nil, nil
}

func synthFetcher(b *testing.B, r backtest.Range, servers int) *backtest.Fetcher {
	return &backtest.Fetcher{Range: r, NewAPI: func(*rules.Source, int64) (v1.API, io.Closer, error) {
		return synthAPI{servers: servers}, io.NopCloser(nil), nil
	}}
}

func benchFile(b *testing.B, text string) *rules.File {
	f, err := rules.Parse([]byte(text), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// sevenDays is the rule file and range of BenchmarkReplay7Days.
func sevenDays(b *testing.B) (*rules.File, backtest.Range) {
	var sb strings.Builder
	sb.WriteString("interval: 15s\nsources:\n  prom:\n    prometheus: http://prom:9090\nmetrics:\n")
	for i := range 10 {
		fmt.Fprintf(&sb, "  m%d: prom:m%d\n", i, i)
	}
	sb.WriteString("reply:\n  ramp: 1m\nrules:\n")
	for i := range 10 {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&sb, "  - name: r%d\n    when: m%d > 900\n    then: drain\n    for: 2m\n", i, i)
		case 1:
			fmt.Fprintf(&sb, "  - name: r%d\n    when: m%d > 800\n    weight: 100 - m%d / 10\n    keep_firing_for: 1m\n", i, i, i)
		default:
			fmt.Fprintf(&sb, "  - m%d > 950 && m%d < 100 => weight 50%%\n", i, (i+1)%10)
		}
	}
	f := benchFile(b, sb.String())
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	r, err := backtest.NewRange(start, start.Add(7*24*time.Hour), 15*time.Second)
	if err != nil || r.Steps() != 40320 {
		b.Fatalf("range %v, %d steps", err, r.Steps())
	}
	return f, r
}

// BenchmarkEvaluate7DaysBare is the baseline of BenchmarkReplay7Days: the
// evaluator alone over the same values, from a snapshot built directly,
// without the readings, the holder or the report.
func BenchmarkEvaluate7DaysBare(b *testing.B) {
	f, r := sevenDays(b)
	n := r.Steps()
	vals := make([][]float64, len(f.Metrics))
	for i := range vals {
		m, _, _, _ := synthAPI{}.QueryRange(context.Background(), f.Metrics[i].Query, v1.Range{Start: r.Start, End: r.At(n - 1), Step: r.Step})
		for _, p := range m.(model.Matrix)[0].Values {
			vals[i] = append(vals[i], float64(p.Value))
		}
	}
	snap := evaluator.Snapshot{}
	b.ReportAllocs()
	for b.Loop() {
		ev := evaluator.New(f)
		for k := range n {
			for i, m := range f.Metrics {
				snap[m.Name] = evaluator.Sample{Value: vals[i][k]}
			}
			ev.Evaluate(r.At(k), snap, nil)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/step")
}

// BenchmarkReplay7Days is the target: 7 days at a 15s step (40,320
// evaluations) of 10 rules over 10 metrics, one service, read beforehand
// (Prometheus' time excluded). One op is the whole replay.
func BenchmarkReplay7Days(b *testing.B) {
	f, r := sevenDays(b)
	p, err := backtest.NewPlan(f, nil)
	if err != nil {
		b.Fatal(err)
	}
	fe := synthFetcher(b, r, 0)
	if err := fe.Fetch(context.Background(), p.Queries()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var run *backtest.Run
	for b.Loop() {
		if run, err = backtest.Replay(context.Background(), p, fe, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(run.Services[0].Totals.Changes), "changes")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/40320, "ns/step")
}

// BenchmarkReplayFleet100x24h is 100 discovered fleet servers over 24h at
// 15s (5,760 evaluations), 3 metrics by server and a guardrail. It reports
// the heap the read history holds (history-MB) and the heap in use after
// the replay with its report kept (heap-MB), besides the allocation per
// op.
func BenchmarkReplayFleet100x24h(b *testing.B) {
	f := benchFile(b, `interval: 15s
sources:
  prom:
    prometheus: http://prom:9090
fleet:
  servers:
    source: prom
    query: max by (instance) (m9)
  max_unavailable: 10%
metrics:
  queue: prom:max by (instance) (m0)
  errors: prom:max by (instance) (m1)
  latency: prom:max by (instance) (m2)
rules:
  - name: queue
    when: queue > 900
    then: drain
    for: 1m
  - name: errors
    when: errors > 950
    then: weight 50%
  - name: latency
    when: latency > 980
    then: down
    keep_firing_for: 2m
`)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	r, err := backtest.NewRange(start, start.Add(24*time.Hour), 15*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	p, err := backtest.NewPlan(f, nil)
	if err != nil {
		b.Fatal(err)
	}
	var before, after, done runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fe := synthFetcher(b, r, 100)
	if err := fe.Fetch(context.Background(), p.Queries()); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportAllocs()
	var run *backtest.Run
	for b.Loop() {
		if run, err = backtest.Replay(context.Background(), p, fe, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&done)
	if len(run.Servers) != 100 {
		b.Fatalf("%d servers", len(run.Servers))
	}
	held := 0
	for _, s := range run.Servers {
		held += s.Totals.GuardrailHolds
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/1e6, "history-MB")
	b.ReportMetric(float64(done.HeapAlloc-before.HeapAlloc)/1e6, "heap-MB")
	b.ReportMetric(float64(held), "holds")
	runtime.KeepAlive(fe)
}

// sparseAPI answers a range query the way Prometheus does for series with
// one sample per chunk: each of its servers' series has a value at the
// steps of the first five minutes (the lookback) of every query, and none
// after.
type sparseAPI struct {
	v1.API
	servers int
}

func (s sparseAPI) QueryRange(_ context.Context, _ string, r v1.Range, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	var m model.Matrix
	for i := range s.servers {
		ss := &model.SampleStream{Metric: model.Metric{"instance": model.LabelValue(fmt.Sprintf("web%02d", i))}}
		for t := r.Start; !t.After(r.End) && t.Sub(r.Start) < 5*time.Minute; t = t.Add(r.Step) {
			ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(t.UnixNano()), Value: model.SampleValue(1000 * (i % 2))})
		}
		m = append(m, ss)
	}
	return m, nil, nil, nil
}

// sparseDays is the range of BenchmarkReplaySparse: 30 days by default,
// so that running every benchmark once stays short, and one day with
// -short (the test suite's run-once stage); -sparse.days 365 is a year at
// 5s (6.3 million evaluations, minutes of replay).
var sparseDays = flag.Int("sparse.days", 30, "days replayed by BenchmarkReplaySparse (one with -short)")

// BenchmarkReplaySparse is -sparse.days at a 5s step of 20 fleet servers
// whose one series each holds one sample per range query: little data
// over a long range. It reports the peak heap in use while reading and
// replaying (peak-heap-MB, sampled every 10ms) and the heap the history
// and the run keep (kept-MB): both follow the data, not the steps.
func BenchmarkReplaySparse(b *testing.B) {
	var servers []string
	for i := range 20 {
		servers = append(servers, fmt.Sprintf("web%02d", i))
	}
	f := benchFile(b, fmt.Sprintf(`interval: 5s
sources:
  prom:
    prometheus: http://prom:9090
fleet:
  servers:
    static: [%s]
metrics:
  x: prom:max by (instance) (x)
rules:
  - name: high
    when: x > 500
    then: drain
    on_missing: keep
`, strings.Join(servers, ", ")))
	start := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	days := *sparseDays
	if testing.Short() {
		days = min(days, 1)
	}
	r, err := backtest.NewRange(start, start.Add(time.Duration(days)*24*time.Hour), 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	p, err := backtest.NewPlan(f, nil)
	if err != nil {
		b.Fatal(err)
	}
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var run *backtest.Run
	var fe *backtest.Fetcher
	for b.Loop() {
		fe = &backtest.Fetcher{Range: r, NewAPI: func(*rules.Source, int64) (v1.API, io.Closer, error) {
			return sparseAPI{servers: 20}, io.NopCloser(nil), nil
		}}
		if err := fe.Fetch(context.Background(), p.Queries()); err != nil {
			b.Fatal(err)
		}
		if run, err = backtest.Replay(context.Background(), p, fe, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(stop)
	<-sampled
	runtime.GC()
	runtime.ReadMemStats(&after)
	if len(run.Servers) != 20 || !strings.HasPrefix(run.Target("web01").Initial, "up drain") {
		b.Fatalf("%d servers, web01 initially %q", len(run.Servers), run.Target("web01").Initial)
	}
	b.ReportMetric(float64(peak.Load()-before.HeapInuse)/1e6, "peak-heap-MB")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/1e6, "kept-MB")
	runtime.KeepAlive(fe)
}
