package source

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
	"github.com/haproxy-agent/agent/rules"
)

// serverCounters name, on a server's own /metrics, the counters of its
// instant queries and of the connections it accepted.
type serverCounters struct {
	queries, conns           string
	queryLabels, connsLabels map[string]string
	// settle, when set, is how long the server may serve a cached /metrics
	// page: a count is taken once two reads that far apart agree.
	settle time.Duration
}

// TestPromQLLoadRealPrometheus reads 2,000 metrics from one source of a
// real Prometheus, twice, while another client queries the same server.
// Every value arrives; Prometheus counts exactly one request per metric
// and a bounded number of connections over both reads; the other client's
// queries all succeed, their median latency within a generous ratio (50×)
// of its baseline measured before the load.
func TestPromQLLoadRealPrometheus(t *testing.T) {
	prom := testutil.StartPrometheus(t)
	testPromQLLoad(t, prom.URL, serverCounters{
		queries: "prometheus_http_requests_total", queryLabels: map[string]string{"handler": "/api/v1/query"},
		conns: "net_conntrack_listener_conn_accepted_total", connsLabels: map[string]string{"listener_name": "http"},
	})
}

// TestPromQLLoadVictoriaMetrics is the same load on VictoriaMetrics.
func TestPromQLLoadVictoriaMetrics(t *testing.T) {
	vm := testutil.StartVictoriaMetrics(t)
	testPromQLLoad(t, vm.URL, serverCounters{
		queries: "vm_http_requests_total", queryLabels: map[string]string{"path": "/api/v1/query"},
		conns: "vm_tcplistener_accepts_total", connsLabels: map[string]string{"name": "http"},
		// VictoriaMetrics 1.79 refreshes its own counters on /metrics
		// about once a second.
		settle: 1500 * time.Millisecond,
	})
}

func testPromQLLoad(t *testing.T, serverURL string, sc serverCounters) {
	const metrics, reads = 2000, 2
	read := func(name string, match map[string]string) float64 {
		t.Helper()
		v, err := testutil.SumMetric(serverURL, name, match)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// count is called only while nothing else queries the server, so a
	// settled value is the true one.
	count := func(name string, match map[string]string) float64 {
		t.Helper()
		v := read(name, match)
		for range 10 {
			if sc.settle == 0 {
				break
			}
			time.Sleep(sc.settle)
			again := read(name, match)
			if again == v {
				break
			}
			v = again
		}
		return v
	}

	// The other client opens a connection per query, as the clients that
	// timed out did when the agent's connections filled the server.
	other := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer other.CloseIdleConnections()
	otherQuery := func() (time.Duration, error) {
		start := time.Now()
		resp, err := other.Get(serverURL + "/api/v1/query?query=" + url.QueryEscape("vector(1)"))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("HTTP %s", resp.Status)
		}
		return time.Since(start), nil
	}
	median := func(ds []time.Duration) time.Duration {
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	var baseline []time.Duration
	for range 30 {
		d, err := otherQuery()
		if err != nil {
			t.Fatal(err)
		}
		baseline = append(baseline, d)
	}

	p := newPromQLN(t, serverURL, 30*time.Second, rules.DefaultMaxConcurrency)
	var ms []*rules.Metric
	for i := range metrics {
		ms = append(ms, promMetric(fmt.Sprintf("m%d", i), fmt.Sprintf("vector(%d)", i), ""))
	}
	queriesBefore, connsBefore := count(sc.queries, sc.queryLabels), count(sc.conns, sc.connsLabels)

	done := make(chan struct{})
	var (
		mu       sync.Mutex
		loaded   []time.Duration
		otherErr []error
	)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			d, err := otherQuery()
			mu.Lock()
			if err != nil {
				otherErr = append(otherErr, err)
			} else {
				loaded = append(loaded, d)
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	})
	var readTook []time.Duration
	for read := 1; read <= reads; read++ {
		start := time.Now()
		rs, err := p.Read(context.Background(), ms)
		readTook = append(readTook, time.Since(start))
		if err != nil {
			t.Fatalf("read %d: %v", read, err)
		}
		bad := 0
		for i, r := range rs {
			if r.Err != nil || r.Value != float64(i) {
				if bad++; bad <= 5 {
					t.Errorf("read %d: %s = %v, %v; want %d", read, ms[i].Name, r.Value, r.Err, i)
				}
			}
		}
		if bad > 0 {
			t.Errorf("read %d: %d of %d values missing or wrong", read, bad, metrics)
		}
	}
	close(done)
	wg.Wait()
	connsAfter := count(sc.conns, sc.connsLabels)
	queries := count(sc.queries, sc.queryLabels) - queriesBefore

	mu.Lock()
	defer mu.Unlock()
	if len(otherErr) > 0 {
		t.Errorf("%d of the other client's queries failed during the load, the first: %v", len(otherErr), otherErr[0])
	}
	if len(loaded) == 0 {
		t.Fatal("the other client ran no query during the load")
	}
	if want := float64(reads*metrics + len(loaded) + len(otherErr)); queries != want {
		t.Errorf("the server counted %v queries; want %v (one per metric per read, plus the other client's)", queries, want)
	}
	// Connections: the other client's (one per query), the counting
	// fetches (a few), and the agent's: at most twice its bound (Go's
	// transport may dial for a request that then gets a freed connection).
	agentConns := connsAfter - connsBefore - float64(len(loaded)+len(otherErr))
	if max := float64(2*rules.DefaultMaxConcurrency + 3); agentConns > max {
		t.Errorf("the agent opened about %v connections for %d queries; want at most %v", agentConns, reads*metrics, max)
	}
	base, load := median(baseline), median(loaded)
	t.Logf("reads took %v; agent connections ≈ %v; other client: median %v before, %v during (%d queries)",
		readTook, agentConns, base, load, len(loaded))
	// The agent's queries share two cores with the server and the other
	// client, so some slowdown is expected; starved of connections, as
	// before the bound, the other client waited seconds or timed out.
	if load > 50*base {
		t.Errorf("the other client's median query took %v during the load, %.0f× its %v baseline; want at most 50×", load, float64(load)/float64(base), base)
	}
}
