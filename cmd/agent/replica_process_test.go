package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

// TestReplicaLeaderKilled runs two `agent serve` replicas of one fleet
// sharing a real 3-member etcd cluster, behind one address a real HAProxy
// polls. Every server's queue is deep and max_unavailable is 1, so one
// server (s1) is drained. The leader is killed with SIGKILL: the other
// replica leads within the lease TTL plus twice the interval, and HAProxy
// holds s1 and only s1 drained throughout.
func TestReplicaLeaderKilled(t *testing.T) {
	cluster := testutil.StartEtcdCluster(t, 3)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "# TYPE queue gauge\nqueue 900\n")
	}))
	t.Cleanup(page.Close)
	rules := fmt.Sprintf(`interval: 500ms
sources:
  app: {scrape: %s/metrics, timeout: 400ms}
fleet:
  servers: {static: [s1, s2, s3, s4]}
  max_unavailable: 1
metrics:
  queue: app:queue
rules:
  - queue > 500 => drain
`, page.URL)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	const ttl = 2 * time.Second
	etcdFlags := []string{"--etcd.endpoints", strings.Join(cluster.Endpoints(), ","), "--etcd.lease-ttl", ttl.String()}
	a := startServe(t, path, etcdFlags...)
	b := startServe(t, path, etcdFlags...)

	bin, ok := testutil.HAProxyBinary()
	if !ok {
		testutil.RequireBinary(t, testutil.HAProxyBinEnv, "haproxy", "/usr/sbin/haproxy")
	}
	agents := testutil.FreePort(t)
	backend := testutil.ClosingServer(t)
	cfg := fmt.Sprintf(`%s
listen agents
    bind 127.0.0.1:%d
    balance roundrobin
    option redispatch
    retries 3
    server a %s check inter 100ms fall 1 rise 1
    server b %s check inter 100ms fall 1 rise 1
backend be_web
    default-server check inter 200ms fall 1 rise 1 agent-check agent-addr 127.0.0.1 agent-port %d agent-inter 200ms weight 100
    server s1 %s agent-send "s1\n"
    server s2 %s agent-send "s2\n"
    server s3 %s agent-send "s3\n"
    server s4 %s agent-send "s4\n"
`, testutil.HAProxyTCPDefaults, agents, a.poll, b.poll, agents, backend, backend, backend, backend)
	hap := testutil.StartHAProxyBin(t, bin, cfg)

	out := func() []string {
		rows, err := hap.ShowStat()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range rows {
			if r["pxname"] == "be_web" && r["svname"] != "BACKEND" && r["status"] != "UP" {
				names = append(names, r["svname"]+"="+r["status"])
			}
		}
		return names
	}
	leads := func(p *process) bool {
		resp, err := http.Get("http://" + p.web + "/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var st struct {
			Group struct {
				Up       bool `json:"up"`
				IsLeader bool `json:"is_leader"`
			} `json:"group"`
		}
		return json.NewDecoder(resp.Body).Decode(&st) == nil && st.Group.Up && st.Group.IsLeader
	}
	deadline := time.Now().Add(30 * time.Second)
	for got := out(); len(got) != 1 || got[0] != "s1=DRAIN (agent)"; got = out() {
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy holds %v, want s1 alone drained", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	leader, other := a, b
	if leads(b) {
		leader, other = b, a
	}
	if !leads(leader) {
		t.Fatal("neither replica leads")
	}

	start := time.Now()
	leader.signal(syscall.SIGKILL)
	var took time.Duration
	for end := time.Now().Add(ttl + 5*time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if got := out(); len(got) != 1 || got[0] != "s1=DRAIN (agent)" {
			t.Fatalf("after the leader was killed HAProxy holds %v, want s1 alone drained", got)
		}
		if took == 0 && leads(other) {
			took = time.Since(start)
		}
	}
	if took == 0 {
		t.Fatalf("the other replica did not lead within %s", ttl+5*time.Second)
	}
	t.Logf("leader change after SIGKILL: %s (lease TTL %s, interval 500ms)", took, ttl)
	if limit := ttl + 2*500*time.Millisecond + time.Second; took > limit {
		t.Errorf("leader change took %s, want within lease TTL + 2 x interval (+1s of polling slack): %s", took, limit)
	}
}
