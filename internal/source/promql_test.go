package source

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
	"github.com/haproxy-agent/agent/rules"
)

func promMetric(name, query string, agg rules.Aggregation) *rules.Metric {
	return &rules.Metric{Name: name, Source: "prom", Query: query, Aggregate: agg}
}

func newPromQLT(t testing.TB, url string, timeout time.Duration) *promql {
	t.Helper()
	p, err := newPromQL(&rules.Source{Name: "prom", Kind: rules.KindPrometheus, Timeout: timeout, Config: &rules.PrometheusConfig{URL: url, MaxConcurrency: rules.DefaultMaxConcurrency}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// testExporter serves known values: a gauge, a counter growing 10/s, and a
// histogram whose buckets grow at fixed ratios.
func testExporter(t *testing.T) string {
	start := time.Now()
	exp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s := time.Since(start).Seconds()
		w.Header().Set("Content-Type", textCT)
		fmt.Fprintf(w, "# TYPE test_gauge gauge\ntest_gauge{instance_name=\"a\"} 42\ntest_gauge{instance_name=\"b\"} 8\n")
		fmt.Fprintf(w, "# TYPE test_requests_total counter\ntest_requests_total %g\n", 10*s)
		fmt.Fprintf(w, "# TYPE test_latency_seconds histogram\n")
		for _, b := range []struct {
			le    string
			ratio float64
		}{{"0.1", 10}, {"0.5", 60}, {"1", 90}, {"+Inf", 100}} {
			fmt.Fprintf(w, "test_latency_seconds_bucket{le=%q} %g\n", b.le, b.ratio*s)
		}
		fmt.Fprintf(w, "test_latency_seconds_sum %g\ntest_latency_seconds_count %g\n", 40*s, 100*s)
	}))
	t.Cleanup(exp.Close)
	return exp.URL + "/metrics"
}

// backend is a Prometheus-compatible server under test.
type backend interface {
	WaitQuery(t testing.TB, query string, timeout time.Duration) float64
}

// TestPromQLRealPrometheus runs queries through a real Prometheus that
// scrapes the test exporter.
func TestPromQLRealPrometheus(t *testing.T) {
	prom := testutil.StartPrometheus(t, testExporter(t))
	testPromQLBackend(t, prom, prom.URL, false)
}

// TestPromQLVictoriaMetrics runs the same queries through VictoriaMetrics.
func TestPromQLVictoriaMetrics(t *testing.T) {
	vm := testutil.StartVictoriaMetrics(t, testExporter(t))
	testPromQLBackend(t, vm, vm.URL, true)
}

func testPromQLBackend(t *testing.T, b backend, url string, victoria bool) {
	b.WaitQuery(t, `histogram_quantile(0.5, rate(test_latency_seconds_bucket[5s]))`, 30*time.Second)
	// rate() extrapolates less until the window is full of samples.
	b.WaitQuery(t, `count_over_time(test_requests_total[5s]) >= 5`, 30*time.Second)

	p := newPromQLT(t, url, 5*time.Second)
	ms := []*rules.Metric{
		promMetric("gauge", `test_gauge{instance_name="a"}`, ""),
		promMetric("rate", `rate(test_requests_total[5s])`, ""),
		promMetric("p50", `histogram_quantile(0.5, sum by (le) (rate(test_latency_seconds_bucket[5s])))`, ""),
		promMetric("scalar", `scalar(sum(test_gauge))`, ""),
		promMetric("several", `test_gauge`, ""),
		promMetric("summed", `test_gauge`, rules.AggSum),
		promMetric("none", `test_gauge{instance_name="zzz"}`, ""),
		promMetric("nan", `test_gauge / 0 - test_gauge / 0`, rules.AggMax),
		promMetric("bad", `sum(test_gauge`, ""),
	}
	rs, err := p.Read(context.Background(), ms)
	if err != nil {
		t.Fatal(err)
	}
	check := func(i int, want, tol float64) {
		t.Helper()
		if rs[i].Err != nil || math.Abs(rs[i].Value-want) > tol {
			t.Errorf("%s = %v, %v; want %v ± %v", ms[i].Name, rs[i].Value, rs[i].Err, want, tol)
		}
		// The server stamps an instant query's samples with the time asked.
		if rs[i].Age != 0 {
			t.Errorf("%s: age %s; want 0", ms[i].Name, rs[i].Age)
		}
	}
	checkErr := func(i int, want string) {
		t.Helper()
		if rs[i].Err == nil || !strings.Contains(rs[i].Err.Error(), want) {
			t.Errorf("%s = %v, %v; want error containing %q", ms[i].Name, rs[i].Value, rs[i].Err, want)
		}
	}
	check(0, 42, 0)
	check(1, 10, 1)
	// Rank 50 of 100 falls in (0.1, 0.5] holding ranks 10..60.
	check(2, 0.1+0.4*(50-10)/(60-10), 1e-6)
	check(3, 50, 0)
	checkErr(4, "2 samples returned; set aggregate")
	check(5, 50, 0)
	checkErr(6, "query returned no samples")
	if victoria {
		// VictoriaMetrics drops NaN samples from results.
		checkErr(7, "query returned no samples")
	} else if rs[7].Err != nil || !math.IsNaN(rs[7].Value) {
		t.Errorf("nan = %v, %v; want NaN, passed on for the collector to refuse", rs[7].Value, rs[7].Err)
	}
	if victoria {
		// VictoriaMetrics answers a bad query with HTTP 422 and that type.
		checkErr(8, "422: error when executing query")
	} else {
		checkErr(8, "bad_data")
	}
}

func TestPromQLServerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	_ = l.Close()
	p := newPromQLT(t, url, time.Second)
	_, err = p.Read(context.Background(), []*rules.Metric{promMetric("a", "up", ""), promMetric("b", "up", "")})
	if err == nil || err.Error() != "connection refused" {
		t.Fatalf("err = %v; want connection refused", err)
	}
}

func TestPromQLHTTPErrorAndTimeout(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusBadGateway)
	}))
	defer failing.Close()
	p := newPromQLT(t, failing.URL, time.Second)
	if _, err := p.Read(context.Background(), []*rules.Metric{promMetric("a", "up", "")}); err == nil || err.Error() != "server error: 502" {
		t.Errorf("err = %v; want server error: 502", err)
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices a client going away only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	defer slow.Close()
	p = newPromQLT(t, slow.URL, 200*time.Millisecond)
	start := time.Now()
	_, err := p.Read(context.Background(), []*rules.Metric{promMetric("a", "up", ""), promMetric("b", "up", "")})
	if err == nil || err.Error() != "timeout after 200ms" {
		t.Errorf("err = %v; want timeout after 200ms", err)
	}
	// The server never answers: only the timeout ends the read (the bound
	// catches a read that ignored it, not a slow machine).
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
}
