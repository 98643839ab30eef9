package app

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

// TestAbsoluteWeightE2E measures what HAProxy does with "weight 50" (the
// reply's weight:50) for a server line with weight 1: HAProxy 3.2 sets
// weight 50 and the restore (100%) brings back the line's weight 1;
// HAProxy 2.6 does not know the word, keeps weight 1 and fails nothing.
func TestAbsoluteWeightE2E(t *testing.T) {
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
  cpu: app:cpu
rules:
  - cpu > 0.9 => weight 50
reply:
  restore_for: 1s
`, exp.srv.URL))
		hap := testutil.StartHAProxyBin(t, bin, testutil.HAProxyTCPDefaults+fmt.Sprintf(`
backend be
    server web1 %s check inter 100ms weight 1 agent-check agent-addr 127.0.0.1 agent-port %d agent-inter 100ms
`, testutil.ClosingServer(t), port))
		ag := startAgent(t, Options{RulesPath: rulesPath, Listen: fmt.Sprintf("127.0.0.1:%d", port)})
		exp.set("cpu", 0.95)
		if reply, _ := replyOf(t, ag); !strings.HasPrefix(reply, "up ready weight:50 ") {
			// The reply is checked once the agent has read the value.
			deadline := time.Now().Add(30 * time.Second)
			for !strings.HasPrefix(reply, "up ready weight:50 ") && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				reply, _ = replyOf(t, ag)
			}
			if !strings.HasPrefix(reply, "up ready weight:50 ") {
				t.Fatalf("reply = %q, want up ready weight:50 ...", reply)
			}
		}
		if bin == "" { // HAProxy 2.6
			v := hap.WaitServer(t, "be", "web1", 10*time.Second, func(s map[string]string) bool {
				return strings.Contains(s["last_agt"], "weight:50")
			})
			if v["weight"] != "1" || v["status"] != "UP" {
				t.Errorf("2.6 after weight:50: weight %s status %s, want 1 and UP:\n%s", v["weight"], v["status"], testutil.FormatHAProxyStat(v))
			}
			t.Logf("2.6 reads weight:50 as: status %s weight %s agent_status %s last_agt %q", v["status"], v["weight"], v["agent_status"], v["last_agt"])
			return
		}
		hap.WaitServer(t, "be", "web1", 10*time.Second, func(s map[string]string) bool { return s["weight"] == "50" })
		exp.set("cpu", 0.1)
		v := hap.WaitServer(t, "be", "web1", 10*time.Second, func(s map[string]string) bool { return s["weight"] == "1" })
		t.Logf("3.2 restored with 100%%: weight %s srv_iweight %s", v["weight"], v["srv_iweight"])
	})
}
