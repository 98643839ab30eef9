package testutil

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestHAProxyAgentCheck drives a real HAProxy against a tiny agent and
// checks what the harness reports for each reply. It also documents how
// HAProxy 2.6 shows agent-set state; see the comments on each step.
func TestHAProxyAgentCheck(t *testing.T) {
	ForEachHAProxy(t, testHAProxyAgentCheck)
}

func testHAProxyAgentCheck(t *testing.T, bin string) {
	var reply atomic.Pointer[string]
	setReply := func(s string) { reply.Store(&s) }
	setReply("up drain 50%\n")
	var polls atomic.Int64
	agentAddr := TCPServer(t, func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		// Without agent-send, HAProxy sends nothing: answer at once.
		polls.Add(1)
		_, _ = c.Write([]byte(*reply.Load()))
	})
	// The real server: the regular health check (a TCP connect) must pass,
	// or the agent's "up" cannot bring the server up.
	srvAddr := ClosingServer(t)
	_, agentPort, err := net.SplitHostPort(agentAddr)
	if err != nil {
		t.Fatal(err)
	}

	cfg := HAProxyTCPDefaults + fmt.Sprintf(`
backend be_app
    # web1: regular check plus agent check, as in production.
    server web1 %[1]s check inter 200ms weight 100 agent-check agent-port %[2]s agent-inter 200ms
    # web2: agent check only, no regular check.
    server web2 %[1]s weight 100 agent-check agent-port %[2]s agent-inter 200ms
`, srvAddr, agentPort)
	h := StartHAProxyBin(t, bin, cfg)

	servers := []string{"web1", "web2"}
	wait := func(step string, ready func(map[string]string) bool) {
		t.Helper()
		for _, srv := range servers {
			v := h.WaitServer(t, "be_app", srv, 5*time.Second, ready)
			t.Logf("%s: %s:\n%s", step, srv, FormatHAProxyStat(v))
		}
	}

	// up drain 50%: admin DRAIN (flag 8), weight 100 × 50% = 50.
	wait("up drain 50%", func(s map[string]string) bool {
		return s["status"] == "DRAIN (agent)" && s["weight"] == "50"
	})
	for _, srv := range servers {
		st, err := h.ServerState("be_app", srv)
		if err != nil {
			t.Fatal(err)
		}
		// The agent status line names only the health word: "drain" and
		// "50%" show in status and weight, not in last_agt.
		want := map[string]string{"srv_op_state": "2", "srv_admin_state": "8", "srv_uweight": "50", "srv_iweight": "100"}
		view, err := h.ServerStat("be_app", srv)
		if err != nil {
			t.Fatal(err)
		}
		if agentStatus(view) != "L7OK" || view["last_agt"] != "via agent : up" {
			t.Errorf("%s after drain: agent_status = %q, last_agt = %q, want L7OK and \"via agent : up\"",
				srv, view["agent_status"], view["last_agt"])
		}
		for k, v := range want {
			if st[k] != v {
				t.Errorf("%s after drain: %s = %q, want %q", srv, k, st[k], v)
			}
		}
	}

	// down #broken: operationally DOWN; the description lands in last_agt.
	setReply("down #broken\n")
	wait("down #broken", func(s map[string]string) bool {
		return s["status"] == "DOWN (agent)" && strings.Contains(s["last_agt"], "broken")
	})
	for _, srv := range servers {
		st, err := h.ServerState("be_app", srv)
		if err != nil {
			t.Fatal(err)
		}
		if st["srv_op_state"] != "0" {
			t.Errorf("%s after down: srv_op_state = %q, want 0", srv, st["srv_op_state"])
		}
		// Words not sent are not changed: the drain flag and the weight set
		// by the previous reply survive "down", though status shows DOWN.
		if st["srv_admin_state"] != "8" || st["srv_uweight"] != "50" {
			t.Errorf("%s after down: srv_admin_state = %q, srv_uweight = %q, want 8 and 50 kept from the previous reply",
				srv, st["srv_admin_state"], st["srv_uweight"])
		}
	}

	// up ready 100%: the complete reply the agent sends reverts everything.
	// A server without a regular check is never shown as "UP": its running
	// status reads "no check", even though the agent check is active.
	setReply("up ready 100%\n")
	upStatus := map[string]string{"web1": "UP", "web2": "no check"}
	for _, srv := range servers {
		v := h.WaitServer(t, "be_app", srv, 5*time.Second, func(s map[string]string) bool {
			return s["status"] == upStatus[srv] && s["weight"] == "100" && s["srv_admin_state"] == "0"
		})
		if agentStatus(v) != "L7OK" {
			t.Errorf("%s after up: agent_status = %q, want L7OK", srv, v["agent_status"])
		}
	}

	if polls.Load() == 0 {
		t.Fatal("the agent was never polled")
	}
}

func TestHAProxyCommand(t *testing.T) {
	h := StartHAProxy(t, `
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s

backend be_one
    server s1 127.0.0.1:1 weight 100
`)
	out, err := h.Command("show info")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Version:") {
		t.Fatalf("show info lacks Version: %q", out)
	}

	// A refused command is an answer, not a transport error.
	out, err = h.Command("show no-such-thing")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("unknown command answer: %q", firstLine(out))

	if _, err := h.ServerStat("be_one", "nope"); err == nil {
		t.Fatal("ServerStat found a server that does not exist")
	}
	if _, err := h.ShowServersState("be_nope"); err == nil {
		t.Fatal("ShowServersState accepted an unknown backend")
	}

	// The runtime API changes what the harness reads.
	if out, err := h.Command("set server be_one/s1 weight 7"); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("set server weight: %q, %v", out, err)
	}
	v := h.WaitServer(t, "be_one", "s1", 2*time.Second, func(s map[string]string) bool {
		return s["weight"] == "7" && s["srv_uweight"] == "7"
	})
	if v["srv_iweight"] != "100" {
		t.Errorf("srv_iweight = %q, want 100", v["srv_iweight"])
	}
}

func TestParseHAProxyStat(t *testing.T) {
	out := "# pxname,svname,status,weight,last_agt,\n" +
		"be,web1,DRAIN (agent),50,\"via agent : down (a, b)\",\n" +
		"be,BACKEND,UP,50,,\n\n"
	rows, err := parseHAProxyStat(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want 2", len(rows))
	}
	if got := rows[0]["last_agt"]; got != "via agent : down (a, b)" {
		t.Errorf("last_agt = %q", got)
	}
	if got := rows[1]["svname"]; got != "BACKEND" {
		t.Errorf("svname = %q", got)
	}
	if _, err := parseHAProxyStat("Unknown command\n"); err == nil {
		t.Error("an error answer parsed as stats")
	}
}

func TestParseHAProxyServersState(t *testing.T) {
	out := "1\n# be_id be_name srv_id srv_name srv_op_state srv_admin_state srv_uweight srv_iweight\n" +
		"2 be 1 web1 0 1 75 100\n\n"
	rows, err := parseHAProxyServersState(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("got %d rows, want 1", len(rows))
	}
	want := map[string]string{"srv_name": "web1", "srv_op_state": "0", "srv_admin_state": "1", "srv_uweight": "75", "srv_iweight": "100"}
	for k, v := range want {
		if rows[0][k] != v {
			t.Errorf("%s = %q, want %q", k, rows[0][k], v)
		}
	}
	if _, err := parseHAProxyServersState("Can't find backend.\n"); err == nil {
		t.Error("an error answer parsed as servers state")
	}
}

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("port %d from FreePort cannot be bound: %v", p, err)
	}
	l.Close()
}

// agentStatus drops the "* " HAProxy puts before agent_status while a check
// is in flight.
func agentStatus(stat map[string]string) string {
	return strings.TrimPrefix(stat["agent_status"], "* ")
}
