package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/haproxy-agent/agent/internal/testutil"
)

// fakeProm answers instant queries with a vector per query text, the
// values keyed by the server label, set by the test.
type fakeProm struct {
	mu      sync.Mutex
	vectors map[string]map[string]float64
	srv     *httptest.Server
}

func newFakeProm(t *testing.T) *fakeProm {
	p := &fakeProm{vectors: map[string]map[string]float64{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		p.mu.Lock()
		defer p.mu.Unlock()
		type sample struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		// Samples are stamped with the time asked, as Prometheus does: a
		// sample older than stale_after would be stale.
		at, err := strconv.ParseFloat(r.Form.Get("time"), 64)
		if err != nil {
			at = float64(time.Now().UnixNano()) / 1e9
		}
		res := []sample{}
		for name, v := range p.vectors[r.Form.Get("query")] {
			res = append(res, sample{Metric: map[string]string{"server": name}, Value: [2]any{at, fmt.Sprint(v)}})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": res}})
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakeProm) set(query string, values map[string]float64) {
	p.mu.Lock()
	p.vectors[query] = values
	p.mu.Unlock()
}

const fleetRules = `interval: 100ms
sources:
  prom:
    prometheus: %s
    timeout: 90ms
fleet:
  servers:
    source: prom
    query: up{job="web"}
    label: server
  max_unavailable: 1
metrics:
  queue: prom:jobs_queue_depth
rules:
  - queue > 500 => drain
`

func TestServeFleet(t *testing.T) {
	t.Parallel()
	prom := newFakeProm(t)
	prom.set(`up{job="web"}`, map[string]float64{"web1": 1, "web2": 1, "web3": 1})
	prom.set("jobs_queue_depth", map[string]float64{"web1": 0, "web2": 900, "web3": 0})
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, fleetRules, prom.srv.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "state.json")
	ag := startAgent(t, Options{RulesPath: path, EnableLifecycle: true, StateFile: state})
	pollIs := func(server, want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			got, err := testutil.PollLine(ag.poll, server+"\n", time.Second)
			if err == nil && got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("poll %s: %q (%v), want %q", server, got, err, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	pollIs("web1", "up ready 100%\n")
	pollIs("web2", "up drain 100% #queue > 500\n")
	pollIs("nope", "\n")
	pollIs("", "\n")

	// web3 deep too: max_unavailable 1 holds it, web2 keeps its place.
	prom.set("jobs_queue_depth", map[string]float64{"web1": 0, "web2": 900, "web3": 900})
	pollIs("web3", "up ready 100% #held by guardrail (1 of 3 out); queue > 500\n")
	pollIs("web2", "up drain 100% #queue > 500\n")
	// The loop publishes the reply table first, then /status and
	// /metrics (after the state file is written): wait for them.
	waitFor(t, "/status to show web3 held", func() bool {
		st := ag.get(t, "/status")
		for _, want := range []string{`"server": "web3"`, `"held": true`, `"held": [`} {
			if !strings.Contains(st, want) {
				return false
			}
		}
		return true
	})
	m := ag.get(t, "/metrics")
	problems, err := promlint.New(strings.NewReader(m)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "haproxy_agent_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
	for _, want := range []string{"haproxy_agent_guardrail_held 1", `haproxy_agent_server_reply_admin{server="web2"} 1`, "haproxy_agent_fleet_servers 3",
		`haproxy_agent_polls_total{outcome="unknown_server",server="",service=""} `} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grep(m, "guardrail|server"))
		}
	}

	// An override names one server and is not limited by the guardrail:
	// web1 goes to maint although web2 is out already; it counts as out,
	// so with max_unavailable 1 the rules' web2 is held back in.
	resp, err := http.Post("http://"+ag.web+"/api/v1/overrides", "application/json",
		strings.NewReader(`{"action":"maint","service":"web1","reason":"disk swap","ttl":"1h"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("override: %s", resp.Status)
	}
	pollIs("web1", "up maint 100% #override: disk swap\n")
	pollIs("web2", "up ready 100% #held by guardrail (1 of 3 out); queue > 500\n")
	pollIs("web3", "up ready 100% #held by guardrail (1 of 3 out); queue > 500\n")
	resp, err = http.Post("http://"+ag.web+"/api/v1/overrides", "application/json",
		strings.NewReader(`{"action":"drain","service":"web9","reason":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("override for an unknown server: %s, want 400", resp.Status)
	}

	// web1 disappears from discovery: its polls keep the last reply for
	// stale_after (3 × 100ms), then get an empty line.
	prom.set(`up{job="web"}`, map[string]float64{"web2": 1, "web3": 1})
	pollIs("web1", "\n")
}

// TestReplyAdminMetric checks the per-host state the guardrail recipe of
// docs/fleet.md reads: haproxy_agent_reply_admin{service}.
func TestReplyAdminMetric(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	rules := "metrics:\n  cpus: host:cpus\nrules:\n  - cpus >= 1 => drain\nservices:\n  worker:\n    rules:\n      - cpus < 0 => maint\n"
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	ag := startAgent(t, Options{RulesPath: path})
	m := ag.get(t, "/metrics")
	for _, want := range []string{`haproxy_agent_reply_admin{service="default"} 1`, `haproxy_agent_reply_admin{service="worker"} 0`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grep(m, "reply_admin"))
		}
	}
	if strings.Contains(m, "haproxy_agent_guardrail") || strings.Contains(m, "haproxy_agent_server_reply") {
		t.Errorf("fleet metrics outside fleet mode:\n%s", grep(m, "guardrail"))
	}
}
