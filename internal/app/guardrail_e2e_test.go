package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

// drop removes servers from the exporter's page: their series end, and
// discovery no longer lists them.
func (e *fleetExporter) drop(names ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range names {
		delete(e.depths, n)
	}
}

// guardrailFleet is an agent answering for web01..web04 through a real
// Prometheus, and a real HAProxy polling it every 200ms.
type guardrailFleet struct {
	exp     *fleetExporter
	hap     *testutil.HAProxy
	rules   string
	port    int
	servers []string
}

const guardrailHead = `interval: 500ms
stale_after: 2s
sources:
  prom:
    prometheus: %s
    timeout: 400ms
fleet:
  servers:
    source: prom
    query: count by (server) (jobs_queue_depth)
    label: server
  max_unavailable: %s
metrics:
  queue: prom:max by (server) (jobs_queue_depth)
`

func startGuardrailFleet(t *testing.T, bin, limit, tail string) *guardrailFleet {
	g := &guardrailFleet{servers: []string{"web01", "web02", "web03", "web04"}}
	g.exp = newFleetExporter(t, g.servers)
	prom := testutil.StartPrometheus(t, g.exp.srv.URL+"/metrics")
	if n := prom.WaitQuery(t, "count(jobs_queue_depth)", 30*time.Second); n != 4 {
		t.Fatalf("prometheus sees %v series, want 4", n)
	}
	g.rules = filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(g.rules, []byte(fmt.Sprintf(guardrailHead, prom.URL, limit)+tail), 0o644); err != nil {
		t.Fatal(err)
	}
	g.port = testutil.FreePort(t)
	backend := testutil.ClosingServer(t)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "%s\nbackend be_web\n    default-server check inter 200ms fall 1 rise 1 agent-check agent-addr 127.0.0.1 agent-port %d agent-inter 200ms weight 100\n",
		testutil.HAProxyTCPDefaults, g.port)
	for _, s := range g.servers {
		fmt.Fprintf(&cfg, "    server %s %s agent-send \"%s\\n\"\n", s, backend, s)
	}
	g.hap = testutil.StartHAProxyBin(t, bin, cfg.String())
	return g
}

// stat returns HAProxy's show stat rows of be_web's servers by name.
func (g *guardrailFleet) stat(t *testing.T) map[string]map[string]string {
	t.Helper()
	rows, err := g.hap.ShowStat()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, r := range rows {
		if r["pxname"] == "be_web" && r["svname"] != "BACKEND" && r["svname"] != "FRONTEND" {
			out[r["svname"]] = r
		}
	}
	return out
}

// watch samples show stat every 100ms for d and fails at the first sample
// where bad (given the rows by server) says what is wrong.
func (g *guardrailFleet) watch(t *testing.T, d time.Duration, bad func(map[string]map[string]string) string) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if why := bad(g.stat(t)); why != "" {
			t.Fatalf("HAProxy: %s", why)
		}
	}
}

func drainedNow(st map[string]map[string]string) []string {
	var out []string
	for _, name := range []string{"web01", "web02", "web03", "web04"} {
		if strings.HasPrefix(st[name]["status"], "DRAIN") {
			out = append(out, name)
		}
	}
	return out
}

func atMostOneDrained(st map[string]map[string]string) string {
	if d := drainedNow(st); len(d) > 1 {
		return fmt.Sprintf("%v DRAIN, max_unavailable 1", d)
	}
	return ""
}

// TestGuardrailForgottenServerE2E: max_unavailable 1; web01 drains, then
// leaves discovery, and web02 goes deep. HAProxy never holds both DRAIN:
// web01 is answered its restore (not its drain, nor an empty line past
// stale_after) and only then does web02 drain.
func TestGuardrailForgottenServerE2E(t *testing.T) {
	t.Parallel()
	testutil.ForEachHAProxy(t, func(t *testing.T, bin string) {
		g := startGuardrailFleet(t, bin, "1", "rules:\n  - queue > 500 => drain\n")
		startAgent(t, Options{RulesPath: g.rules, Listen: fmt.Sprintf("127.0.0.1:%d", g.port)})
		g.exp.set(900, "web01")
		g.hap.WaitServer(t, "be_web", "web01", 15*time.Second, func(st map[string]string) bool { return st["status"] == "DRAIN (agent)" })

		g.exp.drop("web01")
		g.exp.set(900, "web02")
		// Past stale_after (2s) and Prometheus' staleness, one at most.
		g.watch(t, 6*time.Second, atMostOneDrained)
		g.hap.WaitServer(t, "be_web", "web01", 15*time.Second, func(st map[string]string) bool {
			return st["status"] == "UP" && st["weight"] == "100"
		})
		g.hap.WaitServer(t, "be_web", "web02", 15*time.Second, func(st map[string]string) bool { return st["status"] == "DRAIN (agent)" })
		g.watch(t, time.Second, atMostOneDrained)
	})
}

// TestGuardrailZeroWeightE2E: reply.min_weight 0% and a computed weight of
// 0 on all four servers, max_unavailable 25%: HAProxy holds one server at
// weight 0 and the three others at 1, never more at 0, and the backend
// stays up.
func TestGuardrailZeroWeightE2E(t *testing.T) {
	t.Parallel()
	testutil.ForEachHAProxy(t, func(t *testing.T, bin string) {
		g := startGuardrailFleet(t, bin, "25%", `reply:
  min_weight: 0%
rules:
  - name: shed
    when: queue > 500
    weight: max(0, 100 - queue / 10)
`)
		startAgent(t, Options{RulesPath: g.rules, Listen: fmt.Sprintf("127.0.0.1:%d", g.port)})
		g.exp.set(1000, g.servers...)
		weights := func(st map[string]map[string]string) (zero, one int) {
			for _, s := range g.servers {
				switch st[s]["weight"] {
				case "0":
					zero++
				case "1":
					one++
				}
			}
			return zero, one
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			if zero, one := weights(g.stat(t)); zero == 1 && one == 3 {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("HAProxy has %d servers at weight 0 and %d at 1, want 1 and 3: %v", zero, one, g.stat(t))
			}
			time.Sleep(100 * time.Millisecond)
		}
		g.watch(t, 3*time.Second, func(st map[string]map[string]string) string {
			if zero, _ := weights(st); zero > 1 {
				return fmt.Sprintf("%d servers at weight 0, max_unavailable 25%% of 4", zero)
			}
			return ""
		})
	})
}

// TestGuardrailRestartE2E: a rule with for: 3s, max_unavailable 1; web02
// drained and web01 held when the agent restarts with --state.file. web02
// stays DRAIN through the restart and the rule's for: window, and web01 is
// never drained in its place.
func TestGuardrailRestartE2E(t *testing.T) {
	t.Parallel()
	testutil.ForEachHAProxy(t, func(t *testing.T, bin string) {
		g := startGuardrailFleet(t, bin, "1", `rules:
  - name: deep
    when: queue > 500
    then: drain
    for: 3s
`)
		state := filepath.Join(t.TempDir(), "state.json")
		o := Options{RulesPath: g.rules, Listen: fmt.Sprintf("127.0.0.1:%d", g.port), StateFile: state}
		ag := startAgent(t, o)
		g.exp.set(900, "web02")
		g.hap.WaitServer(t, "be_web", "web02", 20*time.Second, func(st map[string]string) bool { return st["status"] == "DRAIN (agent)" })
		g.exp.set(900, "web02", "web01")
		g.hap.WaitServer(t, "be_web", "web01", 20*time.Second, func(st map[string]string) bool {
			return st["status"] == "UP" && strings.Contains(st["last_agt"], "held by guardrail")
		})

		ag.stop()
		startAgent(t, o)
		g.watch(t, 5*time.Second, func(st map[string]map[string]string) string {
			if d := drainedNow(st); len(d) != 1 || d[0] != "web02" {
				return fmt.Sprintf("%v DRAIN after the restart, want web02 alone", d)
			}
			return ""
		})
	})
}
