package testutil

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestHAProxyOperatorInterplay measures, on each HAProxy version, what a
// fixed agent reply does to a change an operator made on the Runtime API:
// the table of docs/haproxy.md. "Stays" is judged over at least 10 polls.
func TestHAProxyOperatorInterplay(t *testing.T) {
	ForEachHAProxy(t, func(t *testing.T, bin string) {
		var reply atomic.Pointer[string]
		var polls atomic.Int64
		first := "up ready 100%\n"
		reply.Store(&first)
		agentAddr := TCPServer(t, func(c net.Conn) {
			defer c.Close()
			polls.Add(1)
			_, _ = c.Write([]byte(*reply.Load()))
		})
		_, agentPort, _ := net.SplitHostPort(agentAddr)
		h := StartHAProxyBin(t, bin, HAProxyTCPDefaults+fmt.Sprintf(`
backend b
    server s1 %s check inter 100ms weight 100 agent-check agent-port %s agent-inter 50ms
`, ClosingServer(t), agentPort))
		cli := func(cmd string) {
			t.Helper()
			if out, err := h.Command(cmd); err != nil || strings.TrimSpace(out) != "" {
				t.Fatalf("%s: %q %v", cmd, out, err)
			}
		}
		reset := func() {
			t.Helper()
			s := "up ready 100%\n"
			reply.Store(&s)
			cli("set server b/s1 state ready")
			cli("set weight b/s1 100")
			h.WaitServer(t, "b", "s1", 5*time.Second, func(s map[string]string) bool {
				return s["status"] == "UP" && s["weight"] == "100" && s["srv_admin_state"] == "0"
			})
		}
		// after waits until HAProxy polled the agent n more times and
		// returns the server then.
		after := func(n int64) map[string]string {
			t.Helper()
			start := polls.Load()
			for deadline := time.Now().Add(30 * time.Second); polls.Load() < start+n; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("only %d polls in 30s", polls.Load()-start)
				}
			}
			v, err := h.ServerView("b", "s1")
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		maintKept := func(s map[string]string) bool { return s["srv_admin_state"] == "1" }
		for _, tc := range []struct {
			reply, operator, outcome string
			ok                       func(map[string]string) bool
		}{
			{"up ready 100%\n", "set server b/s1 state maint", "maint undone", func(s map[string]string) bool { return s["srv_admin_state"] == "0" }},
			{"up 100%\n", "set server b/s1 state maint", "maint stays", maintKept},
			{"up\n", "set server b/s1 state maint", "maint stays", maintKept},
			{"up 100%\n", "set weight b/s1 30", "weight undone", func(s map[string]string) bool { return s["weight"] == "100" }},
			{"up\n", "set weight b/s1 30", "weight stays", func(s map[string]string) bool { return s["weight"] == "30" }},
			{"up maxconn:20\n", "set server b/s1 state drain", "drain stays beside the limit", func(s map[string]string) bool {
				return s["srv_admin_state"] == "8" && s["slim"] == "20"
			}},
		} {
			reset()
			r := tc.reply
			reply.Store(&r)
			after(3)
			cli(tc.operator)
			if v := after(10); !tc.ok(v) {
				t.Errorf("reply %q, operator %q: want %s, got:\n%s", strings.TrimSpace(tc.reply), tc.operator, tc.outcome, FormatHAProxyStat(v))
			}
		}
		// The agent's own drain is not lifted by "up": only ready ends it.
		reset()
		for _, s := range []string{"up drain\n", "up\n"} {
			reply.Store(&s)
			after(5)
		}
		if v, _ := h.ServerView("b", "s1"); v["status"] != "DRAIN (agent)" {
			t.Errorf("up after up drain: want DRAIN (agent) to stay, got:\n%s", FormatHAProxyStat(v))
		}
	})
}
