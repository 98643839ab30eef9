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

// TestHAProxyViewE2E serves two services to a real HAProxy (2.6, 3.2)
// read through --haproxy.runtime-api. An operator's maint while the agent
// is quiet is no drift (the agent leaves it alone); the agent's drain then
// replaces it. web2's server line lacks agent-check: drift, "no
// agent-check". An operator who suspends web1's agent check and sets it
// ready against the agent's drain: drift, "operator". /status and
// /metrics show them.
func TestHAProxyViewE2E(t *testing.T) {
	t.Parallel()
	testutil.ForEachHAProxy(t, func(t *testing.T, bin string) {
		exp := newExporter(t)
		port := testutil.FreePort(t)
		rulesPath := filepath.Join(t.TempDir(), "rules.yaml")
		writeAtomic(t, rulesPath, fmt.Sprintf(`interval: 100ms
sources:
  app:
    scrape: %s
    timeout: 80ms
metrics:
  q: app:queue_depth
rules: []
services:
  web1: {rules: ["q > 500 => drain"]}
  web2: {rules: ["q > 500 => drain"]}
reply:
  restore_for: 1s
`, exp.srv.URL))
		hap := testutil.StartHAProxyBin(t, bin, testutil.HAProxyTCPDefaults+fmt.Sprintf(`
backend be
    default-server weight 100 agent-addr 127.0.0.1 agent-port %d agent-inter 100ms
    server web1 127.0.0.1:1 agent-check agent-send "web1\n"
    server web2 127.0.0.1:2
`, port))
		ag := startAgent(t, Options{RulesPath: rulesPath, Listen: fmt.Sprintf("127.0.0.1:%d", port),
			HAProxyRuntimeAPI: []string{hap.Socket}, HAProxyDriftAfter: time.Second})
		waitView(t, ag, "web1", func(s haproxyview.ServerView) bool { return s.Reply == "up\n" })
		if out, err := hap.Command("set server be/web1 state maint"); err != nil || strings.TrimSpace(out) != "" {
			t.Fatal(out, err)
		}
		quietSince := time.Now()
		for time.Since(quietSince) < 2*time.Second {
			if s := waitView(t, ag, "web1", func(s haproxyview.ServerView) bool { return s.Status == "MAINT" }); s.Drift {
				t.Fatalf("an operator's maint under a quiet agent is drift: %+v", s)
			}
			time.Sleep(100 * time.Millisecond)
		}

		exp.set("queue_depth", 600)
		hap.WaitServer(t, "be", "web1", 10*time.Second, func(s map[string]string) bool { return strings.HasPrefix(s["status"], "DRAIN") })

		web2 := waitView(t, ag, "web2", func(s haproxyview.ServerView) bool { return s.Drift })
		if web2.Cause != "no agent-check on this server line" || web2.Target != "web2" || !strings.HasPrefix(web2.Reply, "up drain") || web2.Status != "no check" {
			t.Errorf("web2: %+v", web2)
		}
		web1 := waitView(t, ag, "web1", func(s haproxyview.ServerView) bool { return strings.HasPrefix(s.Status, "DRAIN") })
		if web1.Drift || web1.AgentStatus == "" {
			t.Errorf("web1 follows the agent: %+v", web1)
		}
		// The status page shows the same.
		waitFor(t, "HAProxy's view on the status page", func() bool {
			page := ag.get(t, "/")
			return strings.Contains(page, `<section id="haproxy">`) && strings.Contains(page, "DRIFT: no agent-check on this server line")
		})
		metrics := ag.get(t, "/metrics")
		for _, want := range []string{
			fmt.Sprintf(`haproxy_agent_drift{haproxy=%q,proxy="be",server="web2"} 1`, hap.Socket),
			fmt.Sprintf(`haproxy_agent_drift{haproxy=%q,proxy="be",server="web1"} 0`, hap.Socket),
			fmt.Sprintf(`haproxy_agent_haproxy_up{haproxy=%q} 1`, hap.Socket),
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}

		for _, cmd := range []string{"disable agent be/web1", "set server be/web1 state ready"} {
			if out, err := hap.Command(cmd); err != nil || strings.TrimSpace(out) != "" {
				t.Fatal(out, err)
			}
		}
		web1 = waitView(t, ag, "web1", func(s haproxyview.ServerView) bool { return s.Drift })
		if !strings.Contains(web1.Cause, "operator") || web1.Status != "no check" {
			t.Errorf("web1 made ready by an operator: %+v", web1)
		}
	})
}

// waitView polls /status until server's view satisfies ok.
func waitView(t *testing.T, ag *runningAgent, server string, ok func(haproxyview.ServerView) bool) haproxyview.ServerView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last haproxyview.ServerView
	for time.Now().Before(deadline) {
		var st struct {
			HAProxy []haproxyview.HAProxyStatus `json:"haproxy"`
		}
		if err := json.Unmarshal([]byte(ag.get(t, "/status")), &st); err != nil {
			t.Fatal(err)
		}
		for _, h := range st.HAProxy {
			for _, s := range h.Servers {
				if s.Server.Server == server {
					if last = s; ok(s) {
						return s
					}
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: condition not met in 30s; last view %+v", server, last)
	return last
}
