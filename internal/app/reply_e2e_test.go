package app

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/testutil"
)

// replyRules drives one server: queue_depth drains it, cpu halves its
// weight, broken (as a connection count) limits its maxconn. The reply
// settings come last so that a test can add its own.
const replyRules = `interval: 100ms
sources:
  app:
    scrape: %s
    timeout: 80ms
metrics:
  queue_depth: app:queue_depth
  cpu: app:cpu
  conns: app:broken
rules:
  - queue_depth > 500 => drain
  - cpu > 0.9 => weight 50%%
  - conns > 100 => maxconn 20
reply:
  restore_for: 1s
%s`

// replyBench is one server behind a real HAProxy, its agent answering
// from replyRules.
type replyBench struct {
	t     *testing.T
	exp   *exporter
	hap   *testutil.HAProxy
	port  int
	rules string
	state string
}

// newReplyBench starts HAProxy (bin) polling the agent port every 100ms;
// the agent itself is started by start.
func newReplyBench(t *testing.T, bin, extra string) *replyBench {
	b := &replyBench{t: t, exp: newExporter(t), port: testutil.FreePort(t)}
	dir := t.TempDir()
	b.rules, b.state = filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "state.json")
	writeAtomic(t, b.rules, fmt.Sprintf(replyRules, b.exp.srv.URL, extra))
	backend := testutil.ClosingServer(t)
	b.hap = testutil.StartHAProxyBin(t, bin, testutil.HAProxyTCPDefaults+fmt.Sprintf(`
backend be
    server web1 %s check inter 100ms fall 1 rise 1 weight 100 agent-check agent-addr 127.0.0.1 agent-port %d agent-inter 100ms
`, backend, b.port))
	return b
}

func (b *replyBench) start(lifecycle bool) *runningAgent {
	return startAgent(b.t, Options{RulesPath: b.rules, StateFile: b.state, EnableLifecycle: lifecycle,
		Listen: fmt.Sprintf("127.0.0.1:%d", b.port)})
}

// startFake starts the agent on a fake clock: it evaluates only when the
// test moves its time on, while HAProxy polls it in real time.
func (b *replyBench) startFake(lifecycle bool) *fakeAgent {
	fa, _ := startFakeAgent(b.t, Options{RulesPath: b.rules, StateFile: b.state, EnableLifecycle: lifecycle,
		Listen: fmt.Sprintf("127.0.0.1:%d", b.port)})
	return fa
}

// wait polls HAProxy until ok holds for web1.
func (b *replyBench) wait(what string, ok func(map[string]string) bool) map[string]string {
	b.t.Helper()
	b.t.Logf("waiting for: %s", what)
	return b.hap.WaitServer(b.t, "be", "web1", 10*time.Second, ok)
}

func (b *replyBench) cli(cmd string) {
	b.t.Helper()
	if out, err := b.hap.Command(cmd); err != nil || strings.TrimSpace(out) != "" {
		b.t.Fatalf("%s: %q %v", cmd, out, err)
	}
}

// view conditions on web1 as show stat and show servers state give it.
func maint(s map[string]string) bool { return adminFlags(s)&1 != 0 }
func drained(s map[string]string) bool {
	return s["status"] == "DRAIN (agent)" || s["status"] == "DRAIN"
}
func adminFlags(s map[string]string) int {
	n, _ := strconv.Atoi(s["srv_admin_state"])
	return n
}

// noLimit says HAProxy holds no maxconn for the server.
func noLimit(s map[string]string) bool { return s["slim"] == "" || s["slim"] == "0" }

// back says the server is as the configuration made it: UP, READY,
// weight 100, no maxconn.
func back(s map[string]string) bool {
	return s["status"] == "UP" && adminFlags(s) == 0 && s["weight"] == "100" && noLimit(s)
}

// replyOf returns the default service's reply and phase from /status.
func replyOf(t *testing.T, ag *runningAgent) (reply, phase string) {
	t.Helper()
	var st struct {
		Services []struct {
			Reply string `json:"reply"`
			Phase string `json:"phase"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(ag.get(t, "/status")), &st); err != nil || len(st.Services) == 0 {
		t.Fatalf("/status: %v", err)
	}
	return st.Services[0].Reply, st.Services[0].Phase
}

// waitQuiet waits until the agent's reply is plain "up".
func waitQuiet(t *testing.T, ag *runningAgent) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		reply, phase := replyOf(t, ag)
		if reply == "up\n" && phase == "quiet" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reply did not go quiet: %q, phase %s", reply, phase)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// polls is how many polls the agent has answered.
func polls(t *testing.T, ag *runningAgent) int {
	t.Helper()
	n := 0
	sc := bufio.NewScanner(strings.NewReader(ag.get(t, "/metrics")))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "haproxy_agent_polls_total{") && strings.Contains(line, `outcome="ok"`) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			n += int(v)
		}
	}
	return n
}

// holds checks that ok stays true for web1 while HAProxy polls the agent
// at least n more times.
func (b *replyBench) holds(ag *runningAgent, n int, what string, ok func(map[string]string) bool) {
	b.t.Helper()
	start := polls(b.t, ag)
	deadline := time.Now().Add(15 * time.Second)
	for {
		v, err := b.hap.ServerView("be", "web1")
		if err != nil {
			b.t.Fatal(err)
		}
		if !ok(v) {
			b.t.Fatalf("%s: undone after %d polls:\n%s", what, polls(b.t, ag)-start, testutil.FormatHAProxyStat(v))
		}
		if got := polls(b.t, ag) - start; got >= n {
			b.t.Logf("%s: held over %d polls", what, got)
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: only %d polls in 15s", what, polls(b.t, ag)-start)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOperatorStateSurvivesAnIdleAgent: while the agent has nothing to
// say, an operator's maint and weight set on HAProxy's Runtime API stay;
// the agent's own drain, weight and maxconn apply and are undone without
// leaving anything behind; a restart with the state file after an idle
// "up" leaves the operator's maint alone.
func TestOperatorStateSurvivesAnIdleAgent(t *testing.T) {
	t.Parallel()
	testutil.ForEachHAProxy(t, func(t *testing.T, bin string) {
		b := newReplyBench(t, bin, "")
		ag := b.start(false)
		b.wait("UP 100 after the start-up restore", back)
		waitQuiet(t, ag)

		b.cli("set server be/web1 state maint")
		b.cli("set weight be/web1 30")
		b.holds(ag, 10, "the operator's maint and weight 30", func(s map[string]string) bool {
			return maint(s) && s["srv_uweight"] == "30"
		})
		b.cli("set server be/web1 state ready")
		b.cli("set weight be/web1 100")
		b.wait("back UP 100", back)

		// The agent's own actions apply, then revert in full.
		b.exp.set("queue_depth", 600)
		b.exp.set("cpu", 0.95)
		b.exp.set("broken", 200)
		b.wait("drain, weight 50, maxconn 20", func(s map[string]string) bool {
			return drained(s) && s["weight"] == "50" && s["slim"] == "20"
		})
		b.exp.set("queue_depth", 0)
		b.exp.set("cpu", 0.1)
		b.exp.set("broken", 0)
		b.wait("UP, weight 100, no maxconn left", back)
		waitQuiet(t, ag)

		// A restart after an idle "up": the state file says HAProxy holds
		// nothing of the agent's, so the operator's maint stays.
		ag.stop()
		b.cli("set server be/web1 state maint")
		ag = b.start(false)
		if reply, phase := replyOf(t, ag); reply != "up\n" || phase != "quiet" {
			t.Errorf("after a restart from an idle up: %q %s, want a quiet up", reply, phase)
		}
		b.holds(ag, 10, "the operator's maint across an agent restart", maint)
	})
}

// TestRestoreAlwaysSendsFullState: restore_for: always keeps the full state
// on every poll, so an operator's maint is undone at once.
func TestRestoreAlwaysSendsFullState(t *testing.T) {
	t.Parallel()
	testutil.ForEachHAProxy(t, func(t *testing.T, bin string) {
		b := newReplyBench(t, bin, "")
		writeAtomic(t, b.rules, strings.Replace(fmt.Sprintf(replyRules, b.exp.srv.URL, ""), "restore_for: 1s", "restore_for: always", 1))
		fa := b.startFake(false)
		b.wait("UP 100", back)
		// Past any 1s window, in the agent's time.
		if d := fa.step(1200 * time.Millisecond).Services[0]; d.Reply != "up ready 100% maxconn:0\n" || d.Phase != evaluator.Restoring {
			t.Errorf("restore_for always: %q %s", d.Reply, d.Phase)
		}
		b.cli("set server be/web1 state maint")
		b.wait("the operator's maint undone by ready", func(s map[string]string) bool { return !maint(s) && s["status"] == "UP" })
	})
}

// TestOverrideWithMaxconnLeavesNothingBehind: an override with a maxconn
// and a TTL applies, and once it expires HAProxy is back as configured,
// with no limit left.
func TestOverrideWithMaxconnLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	testutil.ForEachHAProxy(t, func(t *testing.T, bin string) {
		b := newReplyBench(t, bin, "")
		// A rule file without any maxconn rule.
		writeAtomic(t, b.rules, strings.Replace(fmt.Sprintf(replyRules, b.exp.srv.URL, ""), "  - conns > 100 => maxconn 20\n", "", 1))
		ag := b.start(true)
		b.wait("UP 100", back)
		resp, err := http.Post("http://"+ag.web+"/api/v1/overrides", "application/json",
			strings.NewReader(`{"action":"drain, maxconn 10","reason":"deploy","ttl":"1500ms"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("add override: %s", resp.Status)
		}
		b.wait("drained with maxconn 10", func(s map[string]string) bool { return drained(s) && s["slim"] == "10" })
		b.wait("after expiry: UP, weight 100, no maxconn", back)
		waitQuiet(t, ag)
		if v, _ := b.hap.ServerView("be", "web1"); !back(v) {
			t.Errorf("after the quiet up:\n%s", testutil.FormatHAProxyStat(v))
		}
	})
}

// TestRampClimbs: after a drain ends, the weight climbs from min_weight to
// 100 over reply.ramp, as show stat sees it: the agent's time moves on a
// quarter of the ramp at a time, and HAProxy takes each step.
func TestRampClimbs(t *testing.T) {
	t.Parallel()
	testutil.ForEachHAProxy(t, func(t *testing.T, bin string) {
		b := newReplyBench(t, bin, "  ramp: 2s\n  min_weight: 5%\n")
		fa := b.startFake(false)
		b.wait("UP 100", back)
		b.exp.set("queue_depth", 600)
		fa.step(100 * time.Millisecond)
		b.wait("drained", drained)
		b.exp.set("queue_depth", 0)
		// The drain ends: the ramp starts at min_weight, then climbs 95
		// points over 2s.
		fa.step(100 * time.Millisecond)
		for k := 0; k <= 4; k++ {
			if k > 0 {
				fa.step(500 * time.Millisecond)
			}
			w := strconv.Itoa(5 + 95*k/4)
			b.wait("UP at weight "+w, func(s map[string]string) bool { return s["status"] == "UP" && s["weight"] == w })
		}
		// The ramp is done: ready at 100% is restored for restore_for (1s),
		// then the reply goes quiet.
		if d := fa.step(900 * time.Millisecond).Services[0]; d.Phase != evaluator.Restoring {
			t.Errorf("within restore_for after the ramp: %q %s", d.Reply, d.Phase)
		}
		if d := fa.step(200 * time.Millisecond).Services[0]; d.Reply != "up\n" || d.Phase != evaluator.Quiet {
			t.Errorf("past restore_for after the ramp: %q %s, want a quiet up", d.Reply, d.Phase)
		}
		if v, _ := b.hap.ServerView("be", "web1"); !back(v) {
			t.Errorf("after the quiet up:\n%s", testutil.FormatHAProxyStat(v))
		}
	})
}
