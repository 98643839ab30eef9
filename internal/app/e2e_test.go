package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/source"
	"github.com/haproxy-agent/agent/internal/testutil"
)

// exporter is a /metrics page whose values the test sets.
type exporter struct {
	mu     sync.Mutex
	values map[string]float64
	fail   atomic.Bool
	srv    *httptest.Server
}

func newExporter(t *testing.T) *exporter {
	e := &exporter{values: map[string]float64{"queue_depth": 0, "cpu": 0.1, "broken": 0}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.fail.Load() {
			http.Error(w, "down for the test", http.StatusInternalServerError)
			return
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		for k, v := range e.values {
			fmt.Fprintf(w, "# TYPE %s gauge\n%s %g\n", k, k, v)
		}
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *exporter) set(name string, v float64) {
	e.mu.Lock()
	e.values[name] = v
	e.mu.Unlock()
}

// writeAtomic replaces path the way editors and config managers do: a
// temporary file renamed over it.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	if err := replaceFile(path, content); err != nil {
		t.Fatal(err)
	}
}

// replaceFile is writeAtomic for goroutines other than the test's, which
// must not call t.Fatal.
func replaceFile(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

const e2eRules = `interval: 200ms
sources:
  app:
    scrape: %s
    timeout: 150ms
metrics:
  queue_depth: app:queue_depth
  cpu: app:cpu
  broken: app:broken
rules:
  - queue_depth > 500 => drain
  - cpu > %s => weight 50%%
  - name: broken
    when: broken > 0
    then: down
    description: backend broken
services:
  worker:
    rules:
      - queue_depth > 100 => weight 25%%
`

// runningAgent is an agent started in-process by a test.
type runningAgent struct {
	poll, web string
	cancel    context.CancelFunc
	done      chan error
	stopOnce  sync.Once
}

func startAgent(t *testing.T, o Options) *runningAgent {
	t.Helper()
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	o.WebListen = "127.0.0.1:0"
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.NewReader == nil {
		o.NewReader = source.New
	}
	o.ReloadDebounce = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningAgent{cancel: cancel, done: make(chan error, 1)}
	started := make(chan struct{})
	o.Started = func(p, w net.Addr) {
		ra.poll, ra.web = p.String(), w.String()
		close(started)
	}
	go func() { ra.done <- Run(ctx, o) }()
	select {
	case <-started:
	case err := <-ra.done:
		t.Fatalf("agent did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not start in 10s")
	}
	t.Cleanup(ra.stop)
	return ra
}

// stop stops the agent and waits for it; calling it again does nothing.
func (ra *runningAgent) stop() {
	ra.stopOnce.Do(func() {
		ra.cancel()
		select {
		case <-ra.done:
		case <-time.After(10 * time.Second):
			panic("agent did not stop within 10s")
		}
	})
}

func (ra *runningAgent) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + ra.web + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestHAProxyFollowsRules(t *testing.T) {
	t.Parallel()
	testutil.ForEachHAProxy(t, testHAProxyFollowsRules)
}

func testHAProxyFollowsRules(t *testing.T, bin string) {
	exp := newExporter(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeAtomic(t, path, fmt.Sprintf(e2eRules, exp.srv.URL, "0.9"))

	port := testutil.FreePort(t)
	ag := startAgent(t, Options{RulesPath: path, Listen: fmt.Sprintf("127.0.0.1:%d", port)})
	backend := testutil.ClosingServer(t)
	hap := testutil.StartHAProxyBin(t, bin, testutil.HAProxyTCPDefaults+fmt.Sprintf(`
backend be_app
    default-server check inter 200ms fall 1 rise 1 agent-check agent-addr 127.0.0.1 agent-port %d agent-inter 200ms
    server web1 %s weight 100
    server web2 %s weight 100 agent-send "worker\n"
`, port, backend, backend))

	wait := func(server, what string, ok func(map[string]string) bool) {
		t.Helper()
		t.Logf("waiting for %s: %s", server, what)
		hap.WaitServer(t, "be_app", server, 10*time.Second, ok)
	}
	is := func(status, weight string) func(map[string]string) bool {
		return func(s map[string]string) bool { return s["status"] == status && s["weight"] == weight }
	}

	wait("web1", "UP 100", is("UP", "100"))
	wait("web2", "UP 100", is("UP", "100"))

	exp.set("cpu", 0.95)
	wait("web1", "weight 50 when cpu > 0.9", is("UP", "50"))
	wait("web2", "worker unaffected by cpu", is("UP", "100"))

	exp.set("queue_depth", 600)
	wait("web1", "DRAIN (agent) when queue_depth > 500", is("DRAIN (agent)", "50"))
	wait("web2", "worker at 25% when queue_depth > 100", is("UP", "25"))

	exp.set("queue_depth", 0)
	exp.set("cpu", 0.1)
	wait("web1", "back UP at 100", is("UP", "100"))
	wait("web2", "back UP at 100", is("UP", "100"))

	exp.set("broken", 1)
	wait("web1", "DOWN (agent) with the description", func(s map[string]string) bool {
		return s["status"] == "DOWN (agent)" && strings.Contains(s["last_agt"], "backend broken")
	})
	exp.set("broken", 0)
	wait("web1", "UP again", is("UP", "100"))

	// A rule file replaced by an atomic rename changes HAProxy's state
	// without a restart: the cpu threshold drops to 0.05.
	writeAtomic(t, path, fmt.Sprintf(e2eRules, exp.srv.URL, "0.05"))
	wait("web1", "weight 50 after the reload", is("UP", "50"))
	if m := ag.get(t, "/metrics"); !strings.Contains(m, "haproxy_agent_config_last_reload_successful 1") {
		t.Errorf("reload metric after a good reload:\n%s", grep(m, "agent_config"))
	}

	// An invalid edit keeps the old behaviour and sets the reload metric to 0.
	writeAtomic(t, path, "rules:\n  - cpu >>> 1 => drain\n")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(ag.get(t, "/metrics"), "haproxy_agent_config_last_reload_successful 0") {
		if time.Now().After(deadline) {
			t.Fatal("haproxy_agent_config_last_reload_successful did not go to 0 after an invalid edit")
		}
		time.Sleep(50 * time.Millisecond)
	}
	exp.set("cpu", 0.02)
	wait("web1", "old rules still serving: back to 100 as cpu < 0.05", is("UP", "100"))
	exp.set("cpu", 0.07)
	wait("web1", "old rules still serving: 50 as cpu > 0.05", is("UP", "50"))
	if st := ag.get(t, "/status"); !strings.Contains(st, `"success": false`) || !strings.Contains(st, "rules.yaml:2:") {
		t.Errorf("/status does not show the failed reload with positions:\n%s", st)
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
