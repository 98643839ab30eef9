package app

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/haproxyview"
	"github.com/haproxy-agent/agent/internal/testutil"
)

// TestPushE2E runs push mode against two real HAProxys (2.6, 3.2) whose
// backend is a server-template (every server would send the same
// agent-send): the servers come from HAProxy itself, an operator's maint
// under a quiet agent is left alone, the rules' drain is applied to both
// HAProxys within the guardrail (one server of three), an HAProxy reload
// gets it re-applied, and the end of the drain restores every server.
func TestPushE2E(t *testing.T) {
	t.Parallel()
	testutil.ForEachHAProxy(t, func(t *testing.T, bin string) {
		exp := newExporter(t)
		cfg := testutil.HAProxyTCPDefaults + `
backend web
    balance roundrobin
    server-template srv 1-3 127.0.0.1:1 weight 100
`
		h1 := testutil.StartHAProxyBin(t, bin, cfg)
		h2 := testutil.StartHAProxyBin(t, bin, cfg)
		rulesPath := filepath.Join(t.TempDir(), "rules.yaml")
		writeAtomic(t, rulesPath, fmt.Sprintf(`interval: 100ms
sources:
  app:
    scrape: %s
    timeout: 80ms
fleet:
  servers: {haproxy: web}
  push: {backend: web}
  max_unavailable: 1
metrics:
  q: app:queue_depth
rules:
  - q > 500 => drain
reply:
  restore_for: 1s
`, exp.srv.URL))
		ag := startAgent(t, Options{RulesPath: rulesPath, HAProxyRuntimeAPI: []string{h1.Socket, "unix:" + h2.Socket}})
		names := []string{"srv1", "srv2", "srv3"}
		waitFleetQuiet(t, ag, 3)

		// An operator's maint while the agent is quiet stays.
		cli(t, h1, "set server web/srv2 state maint")
		for range 10 {
			time.Sleep(100 * time.Millisecond)
			if v, _ := h1.ServerView("web", "srv2"); v["status"] != "MAINT" {
				t.Fatalf("the operator's maint was undone: %s", testutil.FormatHAProxyStat(v))
			}
		}
		cli(t, h1, "set server web/srv2 state ready")

		// The rules drain every server; the guardrail lets one out, on
		// both HAProxys alike.
		exp.set("queue_depth", 600)
		drained := func(h *testutil.HAProxy) []string {
			var out []string
			for _, n := range names {
				if v, err := h.ServerView("web", n); err == nil && strings.HasPrefix(v["status"], "DRAIN") {
					out = append(out, n)
				}
			}
			return out
		}
		var out []string
		waitFor(t, "one server drained on both HAProxys", func() bool {
			out = drained(h1)
			return len(out) == 1 && fmt.Sprint(drained(h2)) == fmt.Sprint(out)
		})
		for range 10 {
			time.Sleep(100 * time.Millisecond)
			if a, b := drained(h1), drained(h2); len(a) != 1 || fmt.Sprint(a) != fmt.Sprint(out) || fmt.Sprint(b) != fmt.Sprint(out) {
				t.Fatalf("the guardrail did not hold: %v and %v drained, want %v", a, b, out)
			}
		}

		// A reload forgets the agent's drain: it is applied again.
		h1.Restart(t)
		waitFor(t, "the drain re-applied after the reload", func() bool {
			return fmt.Sprint(drained(h1)) == fmt.Sprint(out)
		})

		// The drain ends: the restore brings every server back.
		exp.set("queue_depth", 0)
		waitFor(t, "every server back in rotation", func() bool {
			return len(drained(h1)) == 0 && len(drained(h2)) == 0
		})
		// /status is built at each evaluation: wait for the counts.
		waitFor(t, "both HAProxys' pushes counted in /status", func() bool {
			var st struct {
				Push []struct {
					Up       bool
					Commands int
					Failed   int
				} `json:"push"`
			}
			if err := json.Unmarshal([]byte(ag.get(t, "/status")), &st); err != nil || len(st.Push) != 2 {
				return false
			}
			for _, p := range st.Push {
				if !p.Up || p.Commands < 2 || p.Failed != 0 {
					return false
				}
			}
			return true
		})
	})
}

// waitFleetQuiet waits until /status lists n fleet servers, all quiet.
func waitFleetQuiet(t *testing.T, ag *runningAgent, n int) {
	t.Helper()
	waitFor(t, "quiet servers discovered from HAProxy", func() bool {
		var st struct {
			Servers []struct{ Server, Phase string } `json:"servers"`
		}
		json.Unmarshal([]byte(ag.get(t, "/status")), &st)
		quiet := 0
		for _, s := range st.Servers {
			if s.Phase == "quiet" {
				quiet++
			}
		}
		return len(st.Servers) == n && quiet == n
	})
}

func cli(t *testing.T, h *testutil.HAProxy, cmd string) {
	t.Helper()
	if out, err := h.Command(cmd); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("%s: %q %v", cmd, out, err)
	}
}

// TestGuardrailCountsAllE2E: with fleet.guardrail_counts: all, a server an
// operator put in maint on HAProxy takes the one slot of max_unavailable,
// so the rules' drain of every server takes none out.
func TestGuardrailCountsAllE2E(t *testing.T) {
	t.Parallel()
	testutil.ForEachHAProxy(t, func(t *testing.T, bin string) {
		exp := newExporter(t)
		h := testutil.StartHAProxyBin(t, bin, testutil.HAProxyTCPDefaults+`
backend web
    server-template srv 1-3 127.0.0.1:1 weight 100
`)
		rulesPath := filepath.Join(t.TempDir(), "rules.yaml")
		writeAtomic(t, rulesPath, fmt.Sprintf(`interval: 100ms
sources:
  app:
    scrape: %s
    timeout: 80ms
fleet:
  servers: {haproxy: web}
  push: {backend: web}
  max_unavailable: 1
  guardrail_counts: all
metrics:
  q: app:queue_depth
rules:
  - q > 500 => drain
reply:
  restore_for: 1s
`, exp.srv.URL))
		ag := startAgent(t, Options{RulesPath: rulesPath, HAProxyRuntimeAPI: []string{h.Socket}})
		// After the start-up restore (which would undo it, as polls would).
		waitFleetQuiet(t, ag, 3)
		cli(t, h, "set server web/srv1 state maint")
		waitFor(t, "HAProxy's maint of srv1 in /status", func() bool {
			var st struct {
				HAProxy []haproxyview.HAProxyStatus `json:"haproxy"`
			}
			json.Unmarshal([]byte(ag.get(t, "/status")), &st)
			for _, h := range st.HAProxy {
				for _, s := range h.Servers {
					if s.Server.Server == "srv1" && s.Status == "MAINT" {
						return true
					}
				}
			}
			return false
		})
		exp.set("queue_depth", 600)
		waitFor(t, "the guardrail holding srv2 and srv3", func() bool {
			var st struct {
				Guardrail struct{ Held []string } `json:"guardrail"`
			}
			json.Unmarshal([]byte(ag.get(t, "/status")), &st)
			return fmt.Sprint(st.Guardrail.Held) == "[srv2 srv3]"
		})
		for range 10 {
			time.Sleep(100 * time.Millisecond)
			for _, n := range []string{"srv2", "srv3"} {
				if v, _ := h.ServerView("web", n); v["status"] != "UP" && v["status"] != "no check" {
					t.Fatalf("%s taken out past the guardrail: %s", n, testutil.FormatHAProxyStat(v))
				}
			}
		}
	})
}
