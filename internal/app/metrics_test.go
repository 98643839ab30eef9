package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/haproxy-agent/agent/internal/testutil"
)

// TestMetricsLint checks every metric the agent exposes with promlint, and
// that the ones the README promises are there.
func TestMetricsLint(t *testing.T) {
	t.Parallel()
	exp := newExporter(t)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(path, []byte(`interval: 1s
sources:
  app:
    scrape: `+exp.srv.URL+`
metrics:
  queue_depth: app:queue_depth
  cpu: host:cpu
rules:
  - queue_depth > 500 => drain, maxconn 10
services:
  worker:
    rules:
      - cpu > 2 => weight 10%
`), 0o644)
	ag := startAgent(t, Options{RulesPath: path})
	testutil.Poll(t, ag.poll, "")
	// The responder counts a poll once its connection is closed, which may
	// be just after the client read the reply.
	var body string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if body = ag.get(t, "/metrics"); strings.Contains(body, `haproxy_agent_polls_total{outcome="ok",server="",service="default"} 1`) {
			break
		}
	}

	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	// Every metric is linted: the agent's own, and the Go and process
	// collectors' (the filter on the old "agent_" prefix matched nothing
	// once the names became haproxy_agent_).
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	for _, line := range strings.Split(body, "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, _, _ = strings.Cut(name, " ")
			if !strings.HasPrefix(name, "haproxy_agent_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
				t.Errorf("metric %s is not prefixed haproxy_agent_", name)
			}
		}
	}
	for _, want := range []string{
		`haproxy_agent_polls_total{outcome="ok",server="",service="default"} 1`,
		`haproxy_agent_reply_weight_percent{service="default"} 100`,
		`haproxy_agent_reply_weight_percent{service="worker"} 100`,
		`haproxy_agent_reply_admin_state{service="default",state="ready"} 1`,
		`haproxy_agent_reply_phase{phase="restoring",service="default"} 1`,
		`haproxy_agent_reply_phase{phase="quiet",service="default"} 0`,
		`haproxy_agent_reply_operational_state{service="default",state="up"} 1`,
		`haproxy_agent_reply_maxconn{service="default"} 0`,
		`haproxy_agent_rules{service="default"} 1`,
		`haproxy_agent_rules_firing{service="worker"} 0`,
		`haproxy_agent_source_up{kind="scrape",source="app"} 1`,
		`haproxy_agent_source_up{kind="host",source="host"} 1`,
		`haproxy_agent_source_read_duration_seconds{source="app"}`,
		`haproxy_agent_config_last_reload_successful 1`,
		`haproxy_agent_config_last_reload_success_timestamp_seconds`,
		`haproxy_agent_config_hash`,
		`haproxy_agent_evaluations_total`,
		`haproxy_agent_evaluations_skipped_total 0`,
		`haproxy_agent_evaluation_duration_seconds_count`,
		`haproxy_agent_metrics_missing 0`,
		`haproxy_agent_poll_connections_open`,
		`haproxy_agent_poll_duration_seconds_count`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
		`haproxy_agent_build_info`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
