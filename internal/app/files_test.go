package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/internal/source"
	"github.com/haproxy-agent/agent/internal/testutil"
	"github.com/haproxy-agent/agent/rules"
)

// TestStatusNonFinite: a scraped `m +Inf`, or a PromQL
// result such as `vector(1) / 0`, made /status answer 200 with an empty
// body. The values are now null with their name beside them, and rules
// still compare them.
func TestStatusNonFinite(t *testing.T) {
	t.Parallel()
	leakCheck(t)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, "# TYPE m gauge\nm +Inf\n")
	}))
	defer page.Close()
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		// Stamped with the time asked, as Prometheus does: an older sample
		// would be stale.
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%s,"-Inf"]}]}}`, r.FormValue("time"))
	}))
	defer prom.Close()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomic(t, path, fmt.Sprintf(`interval: 200ms
sources:
  app:
    scrape: %s
    timeout: 150ms
  prom:
    prometheus: %s
    timeout: 150ms
metrics:
  m: app:m
  ratio: prom:-vector(1) / 0
rules:
  - m > 1 => drain
  - ratio < 0 => weight 50%%
`, page.URL, prom.URL))
	ag := startAgent(t, Options{RulesPath: path, Logger: quietLogger()})

	resp, err := http.Get("http://" + ag.web + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Services []struct {
			Reply string `json:"reply"`
			Rules []struct {
				Values []struct {
					Value     *float64 `json:"value"`
					NonFinite string   `json:"non_finite"`
				} `json:"values"`
			} `json:"rules"`
		} `json:"services"`
		Metrics []struct {
			Name      string   `json:"name"`
			Value     *float64 `json:"value"`
			NonFinite string   `json:"non_finite"`
			Missing   string   `json:"missing"`
		} `json:"metrics"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/status: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("/status is not JSON: %v", err)
	}
	want := map[string]string{"m": "+Inf", "ratio": "-Inf"}
	if len(st.Metrics) != 2 {
		t.Fatalf("metrics: %+v", st.Metrics)
	}
	for _, m := range st.Metrics {
		if m.Value != nil || m.Missing != "" || m.NonFinite != want[m.Name] {
			t.Errorf("metric %s: value %v, non_finite %q, missing %q", m.Name, m.Value, m.NonFinite, m.Missing)
		}
	}
	if len(st.Services) == 0 || st.Services[0].Reply != "up drain 50% #m > 1; ratio < 0\n" {
		t.Fatalf("services: %+v", st.Services)
	}
	if v := st.Services[0].Rules[0].Values[0]; v.Value != nil || v.NonFinite != "+Inf" {
		t.Errorf("rule value: %+v", v)
	}
}

// hanging is a reader stuck in a read with a long timeout of its own that
// ignores the context: it connects to a server that accepts and never
// answers, and waits an hour for a byte. It returns when the server closes
// the connection (the test's end).
type hanging struct {
	addr    string
	started chan struct{}
}

func (h *hanging) Read(ctx context.Context, ms []*rules.Metric) ([]sample.Reading, error) {
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	select {
	case h.started <- struct{}{}:
	default:
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Hour))
	_, err = c.Read(make([]byte, 1))
	return nil, fmt.Errorf("hanging reader: %w", err)
}

// TestStuckSourceDoesNotBlockTheLoop: closing the old
// collector at a reload waited for its reads in flight, so a source stuck
// in a read stopped every evaluation after the first reload. A reload now
// serves at once, the loop keeps publishing, and shutdown does not wait
// for the stuck read either.
func TestStuckSourceDoesNotBlockTheLoop(t *testing.T) {
	t.Parallel()
	leakCheck(t)
	hole := strings.TrimPrefix(testutil.BlackHole(t), "http://")
	exp := newExporter(t)
	stuck := &hanging{addr: hole, started: make(chan struct{}, 1)}
	newReader := func(src *rules.Source) (sample.Reader, error) {
		if src.Name == "stuck" {
			return stuck, nil
		}
		return source.New(src)
	}
	rulesWith := func(threshold int, withStuck bool) string {
		s := fmt.Sprintf(`interval: 100ms
sources:
  app:
    scrape: %s/metrics
    timeout: 80ms
  stuck:
    scrape: http://%s/metrics
    timeout: 50ms
metrics:
  queue_depth: app:queue_depth
`, exp.srv.URL, hole)
		if withStuck {
			s += "  slow: stuck:x\n"
		}
		return s + fmt.Sprintf("rules:\n  - queue_depth > %d => drain\n", threshold)
	}
	exp.set("queue_depth", 50)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomic(t, path, rulesWith(100, true))
	ag := startAgent(t, Options{RulesPath: path, EnableLifecycle: true, NewReader: newReader, Logger: quietLogger()})
	select {
	case <-stuck.started:
	case <-time.After(30 * time.Second):
		t.Fatal("the stuck reader was never read")
	}

	reload := func(content, wantReply string) {
		t.Helper()
		writeAtomic(t, path, content)
		done := make(chan error, 1)
		go func() {
			resp, err := http.Post("http://"+ag.web+"/-/reload", "", nil)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("reload: %s", resp.Status)
				}
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second): // the read is stuck for good
			t.Fatal("POST /-/reload hung behind the stuck read")
		}
		if got := testutil.Poll(t, ag.poll, ""); got != wantReply {
			t.Fatalf("after reload: reply %q, want %q", got, wantReply)
		}
		// The loop keeps evaluating: the exporter's change shows.
		evaluatedAt := func() time.Time {
			var st struct {
				EvaluatedAt time.Time `json:"evaluated_at"`
			}
			if err := json.Unmarshal([]byte(ag.get(t, "/status")), &st); err != nil {
				t.Fatal(err)
			}
			return st.EvaluatedAt
		}
		first := evaluatedAt()
		deadline := time.Now().Add(30 * time.Second)
		for !evaluatedAt().After(first) {
			if time.Now().After(deadline) {
				t.Fatal("no evaluation published after the reload")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The stuck source is carried to the new rule set, then dropped.
	reload(rulesWith(10, true), "up drain 100% #queue_depth > 10\n")
	reload(rulesWith(20, false), "up drain 100% #queue_depth > 20\n")

	// The stuck read never returns: a shutdown that waited for it would
	// never end, and ag.stop gives up (failing the test) after 10 s, far
	// past any stall of the machine.
	start := time.Now()
	ag.stop()
	t.Logf("shutdown took %v with a stuck read", time.Since(start))
}
