package rules

import "testing"

func TestHistoryKeys(t *testing.T) {
	f, err := Parse([]byte("sources:\n  app:\n    scrape: http://127.0.0.1:8080/metrics\n  prom:\n    prometheus: http://127.0.0.1:9090\nmetrics:\n  q:\n    source: app\n    select: jobs_queue_depth\n    history: ' max(jobs_queue_depth{job=\"app\"})'\n  cpu:\n    source: host\n    select: cpu\n    history: 1 - avg(rate(node_cpu_seconds_total{mode=\"idle\"}[1m]))\nrules:\n  - q > 1 || cpu > 0.5 => drain\n"), "h.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m := f.Metric("q"); m.History != `max(jobs_queue_depth{job="app"})` || m.HistorySource != "prom" {
		t.Errorf("q: history %q from %q", m.History, m.HistorySource)
	}
	if m := f.Metric("cpu"); m.HistorySource != "prom" || m.History == "" {
		t.Errorf("cpu: history %q from %q", m.History, m.HistorySource)
	}
}
