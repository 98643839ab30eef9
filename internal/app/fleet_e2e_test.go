package app

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

// fleetExporter serves jobs_queue_depth{server="webNN"} for n servers, the
// values set by the test all at once.
type fleetExporter struct {
	mu     sync.Mutex
	depths map[string]float64
	srv    *httptest.Server
}

func newFleetExporter(t *testing.T, servers []string) *fleetExporter {
	e := &fleetExporter{depths: map[string]float64{}}
	for _, s := range servers {
		e.depths[s] = 0
	}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		e.mu.Lock()
		defer e.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintln(w, "# TYPE jobs_queue_depth gauge")
		for s, v := range e.depths {
			fmt.Fprintf(w, "jobs_queue_depth{server=%q} %g\n", s, v)
		}
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// set gives the named servers depth v and every other server 0, in one
// page version, so that Prometheus scrapes all of the change or none.
func (e *fleetExporter) set(v float64, deep ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.depths {
		e.depths[s] = 0
	}
	for _, s := range deep {
		e.depths[s] = v
	}
}

const fleetE2ERules = `interval: 500ms
stale_after: 5s
sources:
  prom:
    prometheus: %s
    timeout: 400ms
fleet:
  servers:
    source: prom
    query: count by (server) (jobs_queue_depth)
    label: server
  max_unavailable: 25%%
metrics:
  queue: prom:max by (server) (jobs_queue_depth)
  total: prom:sum(jobs_queue_depth)
rules:
  - queue > 500 => drain
  - total > 1e9 => weight 50%%
`

// TestFleetEndToEnd runs one agent for a backend of 12 servers (and one
// server HAProxy names but the fleet does not have) against a real
// Prometheus and a real HAProxy: one deep server drains alone; six deep
// with max_unavailable 25% drain exactly three, the first keeping its
// place; the others are held and say why; the unknown name changes
// nothing; all recover. Prometheus receives one query per metric plus one
// for discovery per cycle, not one per server.
func TestFleetEndToEnd(t *testing.T) {
	t.Parallel()
	var servers []string
	for i := 1; i <= 12; i++ {
		servers = append(servers, fmt.Sprintf("web%02d", i))
	}
	exp := newFleetExporter(t, servers)
	prom := testutil.StartPrometheus(t, exp.srv.URL+"/metrics")
	if n := prom.WaitQuery(t, "count(jobs_queue_depth)", 30*time.Second); n != 12 {
		t.Fatalf("prometheus sees %v series, want 12", n)
	}

	queries := newQueryCounter(t, prom.URL)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, fleetE2ERules, queries.srv.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	// One version after the other: they share the exporter and Prometheus.
	for _, v := range testutil.HAProxyVersions() {
		t.Run("haproxy-"+v.Name, func(t *testing.T) {
			exp.set(0)
			fleetEndToEnd(t, v.Bin, path, queries, servers, exp)
		})
	}
}

// queryCounter is a reverse proxy in front of Prometheus that counts the
// instant queries sent through it as they arrive: in step with the
// agent's cycles, where Prometheus' own count, taken as it answers, lags
// by the queries a loaded machine has not answered yet.
type queryCounter struct {
	n   atomic.Int64
	srv *httptest.Server
}

func newQueryCounter(t *testing.T, promURL string) *queryCounter {
	u, err := url.Parse(promURL)
	if err != nil {
		t.Fatal(err)
	}
	qc := &queryCounter{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	qc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/query" {
			qc.n.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(qc.srv.Close)
	return qc
}

func fleetEndToEnd(t *testing.T, bin, path string, prom *queryCounter, servers []string, exp *fleetExporter) {
	port := testutil.FreePort(t)
	ag := startAgent(t, Options{RulesPath: path, Listen: fmt.Sprintf("127.0.0.1:%d", port)})

	backend := testutil.ClosingServer(t)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "%s\nbackend be_web\n    default-server check inter 200ms fall 1 rise 1 agent-check agent-addr 127.0.0.1 agent-port %d agent-inter 200ms weight 100\n",
		testutil.HAProxyTCPDefaults, port)
	for _, s := range append(cloneNames(servers), "web99") {
		fmt.Fprintf(&cfg, "    server %s %s agent-send \"%s\\n\"\n", s, backend, s)
	}
	hap := testutil.StartHAProxyBin(t, bin, cfg.String())

	// expectState waits until HAProxy shows the servers in drained as
	// DRAIN (agent) and every other server, web99 included, UP at 100.
	expectState := func(what string, drained ...string) {
		t.Helper()
		t.Logf("waiting: %s", what)
		for _, s := range append(cloneNames(servers), "web99") {
			want := "UP"
			for _, d := range drained {
				if d == s {
					want = "DRAIN (agent)"
				}
			}
			hap.WaitServer(t, "be_web", s, 15*time.Second, func(st map[string]string) bool {
				return st["status"] == want && st["weight"] == "100"
			})
		}
	}
	countDrained := func() (n int) {
		rows, err := hap.ShowStat()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r["pxname"] == "be_web" && r["status"] == "DRAIN (agent)" {
				n++
			}
		}
		return n
	}

	expectState("all 13 servers UP at 100")

	exp.set(900, "web05")
	expectState("web05 drains alone", "web05")

	exp.set(900, "web05", "web02", "web08", "web09", "web11", "web12")
	// web05 keeps its place; the five others became deep in the same
	// scrape, so the names decide: web02 and web08.
	expectState("exactly three drain: web05 first, then web02 and web08", "web02", "web05", "web08")
	for range 10 { // and it stays so: never more than three
		if n := countDrained(); n != 3 {
			t.Fatalf("%d servers DRAIN, want 3", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	held, err := testutil.PollLine(ag.poll, "web11\n", 10*time.Second)
	if err != nil || held != "up ready 100% #held by guardrail (3 of 12 out); queue > 500\n" {
		t.Errorf("held server's reply: %q (%v)", held, err)
	}
	// HAProxy shows why: "via agent : up (held by guardrail (3 of 12 out); ...)".
	hap.WaitServer(t, "be_web", "web11", 30*time.Second, func(st map[string]string) bool {
		return st["status"] == "UP" && strings.Contains(st["last_agt"], "held by guardrail (3 of 12 out)")
	})
	page := ag.get(t, "/metrics")
	if got := metricSum(page, "haproxy_agent_guardrail_held"); got != 3 {
		t.Errorf("haproxy_agent_guardrail_held %v, want 3", got)
	}
	if got := metricSum(page, "haproxy_agent_polls_total", `outcome="unknown_server"`); got == 0 {
		t.Errorf("no unknown_server poll counted for web99:\n%s", grep(page, "polls_total"))
	}

	// Queries per cycle: the number of metrics plus discovery, counted as
	// they reach Prometheus, whatever the number of servers.
	// Over at least five cycles, however long a loaded machine takes.
	q0, c0 := float64(prom.n.Load()), metricSum(ag.get(t, "/metrics"), "haproxy_agent_evaluations_total")
	for deadline := time.Now().Add(60 * time.Second); metricSum(ag.get(t, "/metrics"), "haproxy_agent_evaluations_total")-c0 < 5 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	c1, q1 := metricSum(ag.get(t, "/metrics"), "haproxy_agent_evaluations_total"), float64(prom.n.Load())
	cycles, queries := c1-c0, q1-q0
	t.Logf("%v queries over %v cycles", queries, cycles)
	if cycles < 3 || queries < 3*(cycles-1) || queries > 3*(cycles+1) {
		t.Errorf("%v queries over %v cycles: want 3 per cycle (2 metrics + discovery), not one per server", queries, cycles)
	}

	exp.set(0)
	expectState("all recover")
}

func cloneNames(s []string) []string { return append([]string(nil), s...) }
