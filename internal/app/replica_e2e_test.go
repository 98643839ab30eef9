package app

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

const replicaRules = `interval: 500ms
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
  max_unavailable: 1
metrics:
  queue: prom:max by (server) (jobs_queue_depth)
rules:
  - queue > 500 => drain
`

// TestReplicasThroughEtcd runs two fleet replicas sharing a real 3-member
// etcd cluster behind one address that a real HAProxy polls (a TCP proxy
// in front of both), over a real Prometheus: with flapping data HAProxy
// never holds more than max_unavailable out; the replicas answer alike;
// an override made on one is in force on the other, expires on both and
// is cleared from either; with etcd's quorum lost they are fail-static
// and recover by themselves; a replica that cannot reach etcd lets
// nothing out.
func TestReplicasThroughEtcd(t *testing.T) {
	t.Parallel()
	cluster := testutil.StartEtcdCluster(t, 3)
	servers := []string{"s01", "s02", "s03", "s04", "s05", "s06"}
	exp := newFleetExporter(t, servers)
	prom := testutil.StartPrometheus(t, exp.srv.URL+"/metrics")
	if n := prom.WaitQuery(t, "count(jobs_queue_depth)", 30*time.Second); n != float64(len(servers)) {
		t.Fatalf("prometheus sees %v series, want %d", n, len(servers))
	}
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, replicaRules, prom.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	bin, ok := testutil.HAProxyBinary()
	if !ok {
		testutil.RequireBinary(t, testutil.HAProxyBinEnv, "haproxy", "/usr/sbin/haproxy")
	}

	replica := func(endpoints ...string) *runningAgent {
		o := Options{RulesPath: path, EnableLifecycle: true}
		o.Etcd.Endpoints, o.Etcd.Prefix, o.Etcd.LeaseTTL = endpoints, "/e2e/", 2*time.Second
		return startAgent(t, o)
	}
	a := replica(cluster.Endpoints()...)
	b := replica(cluster.Endpoints()...)
	// c reaches only member 2, stopped until phase 5.
	cPort := testutil.FreePort(t)

	agents := testutil.FreePort(t)
	backend := testutil.ClosingServer(t)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "%s\nlisten agents\n    bind 127.0.0.1:%d\n    balance roundrobin\n    server a %s\n    server b %s\n    server c 127.0.0.1:%d disabled\n",
		testutil.HAProxyTCPDefaults, agents, a.poll, b.poll, cPort)
	fmt.Fprintf(&cfg, "backend be_web\n    default-server check inter 200ms fall 1 rise 1 agent-check agent-addr 127.0.0.1 agent-port %d agent-inter 200ms weight 100\n", agents)
	for _, s := range servers {
		fmt.Fprintf(&cfg, "    server %s %s agent-send \"%s\\n\"\n", s, backend, s)
	}
	hap := testutil.StartHAProxyBin(t, bin, cfg.String())

	drained := func() []string {
		rows, err := hap.ShowStat()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			if r["pxname"] == "be_web" && r["svname"] != "BACKEND" && r["status"] != "UP" {
				out = append(out, r["svname"]+"="+r["status"])
			}
		}
		return out
	}
	waitDrained := func(what string, want ...string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := drained()
			ok := len(got) == len(want)
			for i := range want {
				ok = ok && i < len(got) && got[i] == want[i]+"=DRAIN (agent)"
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Logf("a: %s", grep(a.get(t, "/status"), "group"))
				t.Logf("b: %s", grep(b.get(t, "/status"), "group"))
				t.Fatalf("%s: HAProxy holds %v, want %v drained", what, got, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	group := func(ra *runningAgent) (st struct {
		Group struct {
			Up       bool     `json:"up"`
			IsLeader bool     `json:"is_leader"`
			Leader   string   `json:"leader"`
			OutSet   []string `json:"out_set"`
			Replicas []string `json:"replicas"`
		} `json:"group"`
	}) {
		if err := json.Unmarshal([]byte(ra.get(t, "/status")), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	waitUntil := func(what string, timeout time.Duration, ok func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !ok() {
			if time.Since(start) > timeout {
				t.Fatalf("%s: not within %s", what, timeout)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitUntil("both replicas in the group, one leading", 20*time.Second, func() bool {
		sa, sb := group(a), group(b)
		return sa.Group.Up && sb.Group.Up && len(sa.Group.Replicas) == 2 && sa.Group.IsLeader != sb.Group.IsLeader
	})
	waitDrained("all up")
	if page := a.get(t, "/"); !strings.Contains(page, "Replica group (etcd)") || !strings.Contains(page, group(a).Group.Leader) {
		t.Errorf("the status page does not show the group and its leader %q", group(a).Group.Leader)
	}

	// 1. Flapping data: never more than max_unavailable out in HAProxy.
	rng := rand.New(rand.NewPCG(1, 2))
	maxOut, samplesOut := 0, 0
	for end, next := time.Now().Add(15*time.Second), time.Now(); time.Now().Before(end) || samplesOut == 0 && time.Now().Before(end.Add(30*time.Second)); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(next) {
			var deep []string
			for _, s := range servers {
				if rng.IntN(3) == 0 {
					deep = append(deep, s)
				}
			}
			exp.set(900, deep...)
			next = time.Now().Add(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
		}
		got := drained()
		if len(got) > 1 {
			t.Fatalf("HAProxy holds %d servers out (%v) with max_unavailable 1", len(got), got)
		}
		if len(got) == 1 {
			samplesOut++
		}
		maxOut = max(maxOut, len(got))
	}
	t.Logf("flapping: %d samples with one server out, never more", samplesOut)
	if samplesOut == 0 {
		for _, ra := range []*runningAgent{a, b} {
			st := ra.get(t, "/status")
			t.Logf("status: %s", st[:min(3000, len(st))])
		}
		t.Fatal("no server ever drained: the flapping data tested nothing")
	}

	// 2. Stable data: both replicas answer every server alike.
	exp.set(900, "s03")
	waitDrained("s03 drains", "s03")
	waitUntil("the replicas answer every server alike", 2*time.Second, func() bool {
		for _, s := range servers {
			ra, _ := testutil.PollLine(a.poll, s+"\n", time.Second)
			rb, _ := testutil.PollLine(b.poll, s+"\n", time.Second)
			if ra != rb {
				return false
			}
		}
		return true
	})

	// 3. An override made on a is in b's replies; etcd expires it on
	// both; one made on a is cleared from b.
	post := func(ra *runningAgent, body string) {
		t.Helper()
		resp, err := http.Post("http://"+ra.web+"/api/v1/overrides", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST override: %s", resp.Status)
		}
	}
	replyOf := func(ra *runningAgent, s string) string {
		r, _ := testutil.PollLine(ra.poll, s+"\n", time.Second)
		return r
	}
	post(a, `{"action":"maint","service":"s05","reason":"disk","ttl":"3s"}`)
	took := waitUntil("b answers a's override", 5*time.Second, func() bool { return strings.Contains(replyOf(b, "s05"), "maint") })
	// Its time is reported, not judged: on a loaded machine a fixed bound
	// would fail for the machine's sake (the wait above catches a hang).
	t.Logf("override propagation to the other replica: %s (interval 500ms)", took)
	waitUntil("the override expires on both", 10*time.Second, func() bool {
		return !strings.Contains(replyOf(a, "s05"), "maint") && !strings.Contains(replyOf(b, "s05"), "maint")
	})
	post(a, `{"action":"maint","service":"s05","reason":"disk","ttl":"forever"}`)
	waitUntil("b answers a's second override", 5*time.Second, func() bool { return strings.Contains(replyOf(b, "s05"), "maint") })
	req, _ := http.NewRequest(http.MethodDelete, "http://"+b.web+"/api/v1/overrides", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitUntil("clear on b clears a", 5*time.Second, func() bool { return !strings.Contains(replyOf(a, "s05"), "maint") })
	waitDrained("s03 alone out again", "s03")

	// The group's series, as each replica reads the group now: both up,
	// one leader, two replicas, the same out-set revision.
	var leaders float64
	var revisions []float64
	for _, ra := range []*runningAgent{a, b} {
		m := ra.get(t, "/metrics")
		if got := metricSum(m, "haproxy_agent_etcd_up"); got != 1 {
			t.Errorf("haproxy_agent_etcd_up = %v with quorum", got)
		}
		if got := metricSum(m, "haproxy_agent_etcd_replicas"); got != 2 {
			t.Errorf("haproxy_agent_etcd_replicas = %v, want 2", got)
		}
		if got := metricSum(m, "haproxy_agent_etcd_out_set_timestamp_seconds"); got <= 0 {
			t.Errorf("haproxy_agent_etcd_out_set_timestamp_seconds = %v after out-sets were published", got)
		}
		leaders += metricSum(m, "haproxy_agent_etcd_leader")
		revisions = append(revisions, metricSum(m, "haproxy_agent_etcd_out_set_revision"))
	}
	if leaders != 1 {
		t.Errorf("haproxy_agent_etcd_leader sums to %v over the replicas, want 1", leaders)
	}
	if revisions[0] <= 0 || revisions[0] != revisions[1] {
		t.Errorf("haproxy_agent_etcd_out_set_revision: %v, want the same revision on both", revisions)
	}

	// 4. Quorum lost: fail-static. s03 recovers and s01 deepens: s03 is
	// released, s01 is not let out while etcd is gone.
	cluster.Stop(0)
	cluster.Stop(1)
	waitUntil("both replicas report etcd down", 15*time.Second, func() bool { return !group(a).Group.Up && !group(b).Group.Up })
	waitUntil("the status page says etcd is unreachable", 5*time.Second, func() bool {
		return strings.Contains(a.get(t, "/"), "etcd is unreachable")
	})
	if got := metricSum(a.get(t, "/metrics"), "haproxy_agent_etcd_up"); got != 0 {
		t.Errorf("haproxy_agent_etcd_up = %v without quorum", got)
	}
	exp.set(900, "s01")
	waitUntil("both replicas read s03 back in", 20*time.Second, func() bool {
		return !strings.Contains(replyOf(a, "s03"), "drain") && !strings.Contains(replyOf(b, "s03"), "drain")
	})
	waitDrained("s03 released, s01 held while etcd is down")
	for range 40 {
		if got := drained(); len(got) != 0 {
			t.Fatalf("without etcd HAProxy holds %v out: a fail-static replica let a server out", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := replyOf(a, "s01"); !strings.Contains(r, "held by guardrail") {
		t.Errorf("s01 without etcd: %q, want held by guardrail", r)
	}
	cluster.Stop(2)
	for i := range 3 {
		cluster.Start(i)
	}
	cluster.WaitHealthy(t, 30*time.Second)
	took = waitUntil("the replicas recover by themselves", 30*time.Second, func() bool { return group(a).Group.Up && group(b).Group.Up })
	t.Logf("recovery after quorum is back: %s", took)
	waitDrained("s01 drains once the group is back", "s01")

	// 5. A replica whose only endpoint is a stopped member answers polls
	// but lets nothing out.
	cluster.Stop(2)
	o := Options{RulesPath: path, Listen: fmt.Sprintf("127.0.0.1:%d", cPort)}
	o.Etcd.Endpoints, o.Etcd.Prefix, o.Etcd.LeaseTTL = []string{cluster.Endpoint(2)}, "/e2e/", 2*time.Second
	c := startAgent(t, o)
	if _, err := hap.Command("enable server agents/c"); err != nil {
		t.Fatal(err)
	}
	exp.set(900, "s01", "s02", "s04")
	for range 60 {
		if got := drained(); len(got) > 1 {
			t.Fatalf("with a partitioned replica HAProxy holds %v out", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := replyOf(c, "s02"); strings.Contains(r, "drain") {
		t.Errorf("the partitioned replica drains s02: %q", r)
	}
	if st := group(c); st.Group.Up {
		t.Errorf("the partitioned replica reports etcd up")
	}
}
