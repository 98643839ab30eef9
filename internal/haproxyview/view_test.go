package haproxyview

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/testutil"
	"github.com/haproxy-agent/agent/rules"
)

// fakeAgent answers every agent check with line. It stands for the agent
// (the side under test is HAProxy's view of it).
func fakeAgent(t *testing.T, line string) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(time.Second))
				bufio.NewReader(c).ReadString('\n')
				c.Write([]byte(line))
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

func decision(server string, admin rules.Admin, phase evaluator.Phase) *evaluator.Decision {
	return &evaluator.Decision{Server: server, Op: rules.Up, Admin: admin, Weight: 100, Phase: phase, Reply: "up " + admin.String() + " 100%\n"}
}

// TestDrift reads real HAProxys (2.6 and 3.2, one over TCP) holding a
// server that follows the agent, one without agent-check, one polling
// another port, and then an operator's maint: each disagreement becomes
// drift after DriftAfter, with its cause, and not before.
func TestDrift(t *testing.T) {
	testutil.ForEachHAProxy(t, func(t *testing.T, bin string) {
		port := fakeAgent(t, "up drain\n")
		tcp := testutil.FreePort(t)
		h := testutil.StartHAProxyBin(t, bin, fmt.Sprintf(`
global
    stats socket ipv4@127.0.0.1:%d level admin
`, tcp)+testutil.HAProxyTCPDefaults+fmt.Sprintf(`
backend be
    default-server weight 100 agent-addr 127.0.0.1 agent-inter 100ms
    server web1 127.0.0.1:1 agent-check agent-port %d agent-send "web1\n"
    server web2 127.0.0.1:2
    server web3 127.0.0.1:3 agent-check agent-port %d agent-send "web3\n"
`, port, testutil.FreePort(t)))
		h.WaitServer(t, "be", "web1", 10*time.Second, func(s map[string]string) bool { return strings.HasPrefix(s["status"], "DRAIN") })

		now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
		v, err := New(Options{Addresses: []string{"tcp:127.0.0.1:" + fmt.Sprint(tcp)}, Port: port, DriftAfter: 5 * time.Second,
			Interval: func() time.Duration { return time.Second }, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		v.Publish(&evaluator.Result{Guardrail: &evaluator.Guardrail{}, Servers: []*evaluator.Decision{
			decision("web1", rules.Drain, evaluator.Acting),
			decision("web2", rules.Drain, evaluator.Acting),
			decision("web3", rules.Drain, evaluator.Acting),
		}})
		read := func() map[string]ServerView {
			t.Helper()
			servers, err := ReadServers(context.Background(), v.haps[0].client)
			v.update(v.haps[0], servers, err)
			st := v.Status()[0]
			if !st.Up {
				t.Fatalf("read: %s", st.Error)
			}
			out := map[string]ServerView{}
			for _, s := range st.Servers {
				out[s.Server.Server] = s
			}
			return out
		}
		got := read()
		for _, name := range []string{"web1", "web2", "web3"} {
			if got[name].Drift {
				t.Errorf("%s drifts at the first read: %+v", name, got[name])
			}
		}
		now = now.Add(6 * time.Second)
		got = read()
		if got["web1"].Drift || got["web1"].Status != "DRAIN (agent)" && got["web1"].Status != "DRAIN" {
			t.Errorf("web1 follows the agent but: %+v", got["web1"])
		}
		if s := got["web2"]; !s.Drift || s.Cause != "no agent-check on this server line" {
			t.Errorf("web2 (no agent-check): %+v", s)
		}
		if s := got["web3"]; !s.Drift || !strings.Contains(s.Cause, "polls port") {
			t.Errorf("web3 (another port): %+v", s)
		}

		// An operator's maint against the agent's drain.
		if out, err := h.Command("set server be/web1 state maint"); err != nil || strings.TrimSpace(out) != "" {
			t.Fatal(out, err)
		}
		got = read()
		if got["web1"].Drift {
			t.Errorf("web1 drifts at once: %+v", got["web1"])
		}
		now = now.Add(6 * time.Second)
		if s := read()["web1"]; !s.Drift || !strings.Contains(s.Cause, "operator") {
			t.Errorf("web1 under an operator's maint: %+v", s)
		}
		// The agent goes quiet: the operator's maint is no drift any more.
		v.Publish(&evaluator.Result{Guardrail: &evaluator.Guardrail{}, Servers: []*evaluator.Decision{
			{Server: "web1", Op: rules.Up, Admin: rules.Ready, Weight: 100, Phase: evaluator.Quiet, Reply: "up\n"},
		}})
		now = now.Add(time.Minute)
		if s := read()["web1"]; s.Drift {
			t.Errorf("web1, quiet agent, operator's maint: %+v", s)
		}
	})
}

// TestUnreachable: a socket that fails is reported, retried later and
// later, and recovers by itself.
func TestUnreachable(t *testing.T) {
	v, err := New(Options{Addresses: []string{"unix:/nonexistent/haproxy.sock"}, Interval: func() time.Duration { return time.Second }})
	if err != nil {
		t.Fatal(err)
	}
	var waits []int
	for range 8 {
		servers, err := ReadServers(context.Background(), v.haps[0].client)
		waits = append(waits, v.update(v.haps[0], servers, err))
	}
	if fmt.Sprint(waits) != "[2 4 8 16 32 64 64 64]" {
		t.Errorf("backoff in intervals: %v", waits)
	}
	st := v.Status()[0]
	if st.Up || !strings.Contains(st.Error, "nonexistent") {
		t.Errorf("status: %+v", st)
	}
	if v.update(v.haps[0], nil, nil) != 1 || !v.Status()[0].Up {
		t.Error("a read that works again does not reset the backoff")
	}
}
