package backtest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/backtest"
	"github.com/haproxy-agent/agent/internal/testutil"
	"github.com/haproxy-agent/agent/rules"
)

// base is the start of the backfilled history: whole hours, far enough in
// the past that every block is older than Prometheus' head.
var base = time.Now().UTC().Truncate(time.Hour).Add(-10 * time.Hour)

const step = 15 * time.Second

// between reports whether t is in [base+a, base+b).
func between(t time.Time, a, b time.Duration) bool {
	return !t.Before(base.Add(a)) && t.Before(base.Add(b))
}

// level is a series at 0 with 1000 from a to b.
func level(a, b time.Duration) func(time.Time) (float64, bool) {
	return func(t time.Time) (float64, bool) {
		if between(t, a, b) {
			return 1000, true
		}
		return 0, true
	}
}

// history is the OpenMetrics text every test here reads, 8 hours at 15s:
//   - excursion: 1000 from 2h to 2h30m, else 0;
//   - spike: 1000 from 2h to 2h05m, else 0;
//   - gappy: 1000 from 1h to 3h, no samples from 2h to 2h20m;
//   - queue{instance=web1..web4}: web1 1000 from 1h to 2h, web2 from 1h10m
//     to 2h, web3 from 1h20m to 1h40m, web4 never; up{instance} 1 for all.
func history() string {
	var om testutil.OpenMetrics
	end := base.Add(8 * time.Hour)
	om.Gauge("excursion", base, end, step, level(2*time.Hour, 2*time.Hour+30*time.Minute))
	om.Gauge("spike", base, end, step, level(2*time.Hour, 2*time.Hour+5*time.Minute))
	om.Gauge("gappy", base, end, step, func(t time.Time) (float64, bool) {
		if between(t, 2*time.Hour, 2*time.Hour+20*time.Minute) {
			return 0, false
		}
		return level(time.Hour, 3*time.Hour)(t)
	})
	shapes := map[string][2]time.Duration{
		"web1": {time.Hour, 2 * time.Hour},
		"web2": {time.Hour + 10*time.Minute, 2 * time.Hour},
		"web3": {time.Hour + 20*time.Minute, time.Hour + 40*time.Minute},
		"web4": {0, 0},
	}
	for _, s := range []string{"web1", "web2", "web3", "web4"} {
		om.Gauge(fmt.Sprintf("queue{instance=%q}", s), base, end, step, level(shapes[s][0], shapes[s][1]))
	}
	for _, s := range []string{"web1", "web2", "web3", "web4"} {
		om.Gauge(fmt.Sprintf("up{instance=%q}", s), base, end, step, func(time.Time) (float64, bool) { return 1, true })
	}
	return om.String()
}

// prom starts a Prometheus holding history() for one test.
func prom(t *testing.T) string {
	t.Helper()
	return testutil.StartPrometheusWithHistory(t, history()).URL
}

// ruleFile writes a rule file reading Prometheus at url.
func ruleFile(t *testing.T, url, body string) *rules.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	text := fmt.Sprintf("interval: 15s\nsources:\n  prom:\n    prometheus: %s\n%s", url, body)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := rules.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// replay runs f from base+30m to base+4h at 15s.
func replay(t *testing.T, fe *backtest.Fetcher, f *rules.File, set map[string]float64) *backtest.Run {
	t.Helper()
	p, err := backtest.NewPlan(f, set)
	if err != nil {
		t.Fatal(err)
	}
	if err := fe.Fetch(context.Background(), p.Queries()); err != nil {
		t.Fatal(err)
	}
	run, err := backtest.Replay(context.Background(), p, fe, nil)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func newFetcher(t *testing.T) *backtest.Fetcher {
	r, err := backtest.NewRange(base.Add(30*time.Minute), base.Add(4*time.Hour), step)
	if err != nil {
		t.Fatal(err)
	}
	return &backtest.Fetcher{Range: r, MaxPoints: 500} // several chunks per query
}

// TestBacktestPrometheus replays known shapes stored in a real Prometheus
// and checks the exact totals.
func TestBacktestPrometheus(t *testing.T) {
	url := prom(t)
	fe := newFetcher(t)
	cases := []struct {
		name, metrics, rule string
		out, longest        time.Duration
		changes             int
	}{
		{"excursion for 10m", "x: prom:excursion", "when: x > 500\n    then: drain\n    for: 10m", 20 * time.Minute, 20 * time.Minute, 2},
		{"spike for 10m", "x: prom:spike", "when: x > 500\n    then: drain\n    for: 10m", 0, 0, 0},
		{"spike", "x: prom:spike", "when: x > 500\n    then: drain", 5 * time.Minute, 5 * time.Minute, 2},
		{"excursion keep_firing_for", "x: prom:excursion", "when: x > 500\n    then: drain\n    for: 10m\n    keep_firing_for: 5m", 25 * time.Minute, 25 * time.Minute, 2},
		{"gap on_missing keep", "x: prom:gappy", "when: x > 500\n    then: drain\n    on_missing: keep", 2 * time.Hour, 2 * time.Hour, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := ruleFile(t, url, fmt.Sprintf("metrics:\n  %s\nrules:\n  - name: r\n    %s\n", tc.metrics, tc.rule))
			run := replay(t, fe, f, nil)
			d := run.Target("default")
			if d == nil {
				t.Fatalf("no default service in %+v", run)
			}
			x := d.Totals
			if x.OutSeconds != tc.out.Seconds() || x.LongestOutSeconds != tc.longest.Seconds() || x.Changes != tc.changes {
				t.Errorf("totals %+v; want out %s, longest %s, %d changes\nchanges: %+v", x, tc.out, tc.longest, tc.changes, d.Changes)
			}
		})
	}
	t.Run("gap on_missing skip", func(t *testing.T) {
		// Without keep, the gap ends the drain once the last value is
		// older than the lookback and stale_after: less than keep's 2h,
		// and two drains.
		f := ruleFile(t, url, "metrics:\n  x: prom:gappy\nrules:\n  - name: r\n    when: x > 500\n    then: drain\n    on_missing: skip\n")
		x := replay(t, fe, f, nil).Target("default").Totals
		if x.OutSeconds >= (2*time.Hour).Seconds() || x.OutSeconds <= (100*time.Minute).Seconds() || x.Changes != 4 {
			t.Errorf("totals %+v; want out between 1h40m and 2h, 4 changes", x)
		}
	})
	t.Run("first change", func(t *testing.T) {
		f := ruleFile(t, url, "metrics:\n  x: prom:excursion\nrules:\n  - name: r\n    when: x > 500\n    then: drain\n    for: 10m\n")
		d := replay(t, fe, f, nil).Target("default")
		c := d.Changes[0]
		if want := base.Add(2*time.Hour + 10*time.Minute); !c.Time.Equal(want) || c.From != "up ready 100%" || c.To != "up drain 100%" || strings.Join(c.Firing, ",") != "r" {
			t.Errorf("first change %+v; want at %s, up ready 100%% to up drain 100%%, firing r", c, want)
		}
	})
}

// TestBacktestBaseline replays two files over the same data: both are
// reported, and where they differ.
func TestBacktestBaseline(t *testing.T) {
	url := prom(t)
	fe := newFetcher(t)
	nf := ruleFile(t, url, "metrics:\n  x: prom:excursion\nrules:\n  - name: r\n    when: x > 500\n    then: drain\n    for: 10m\n")
	of := ruleFile(t, url, "metrics:\n  x: prom:excursion\nrules:\n  - x > 500 => drain\n")
	queries := fe.Queries
	run := replay(t, fe, nf, nil)
	old := replay(t, fe, of, nil)
	if fe.Queries != queries+len(fe.Range.Chunks(500)) {
		t.Errorf("%d range queries for two files reading one query; want %d", fe.Queries-queries, len(fe.Range.Chunks(500)))
	}
	rep := backtest.NewReport(run, old, "")
	if got := rep.Services[0].Totals.OutSeconds; got != 1200 {
		t.Errorf("rules out %vs, want 1200", got)
	}
	if got := rep.Baseline.Services[0].Totals.OutSeconds; got != 1800 {
		t.Errorf("baseline out %vs, want 1800", got)
	}
	want := backtest.Difference{Name: "default", Start: base.Add(2 * time.Hour), End: base.Add(2*time.Hour + 10*time.Minute), Seconds: 600, Rules: "up ready 100%", Baseline: "up drain 100%"}
	if len(rep.Differences) != 1 || rep.Differences[0] != want {
		t.Errorf("differences %+v; want %+v", rep.Differences, want)
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if len([]rune(line)) > 100 && !strings.Contains(line, nf.Path) {
			t.Errorf("line longer than 100 columns: %q", line)
		}
	}
	if !regexp.MustCompile(`\n  out of rotation +20m +30m\n`).MatchString(b.String()) {
		t.Errorf("text report without the totals side by side:\n%s", b.String())
	}
}

// TestBacktestFleet replays a discovered fleet with a vector per server
// and a guardrail that holds one server.
func TestBacktestFleet(t *testing.T) {
	url := prom(t)
	fe := newFetcher(t)
	f := ruleFile(t, url, `fleet:
  servers:
    source: prom
    query: up
    label: instance
  max_unavailable: 50%
metrics:
  queue: prom:max by (instance) (queue)
rules:
  - queue > 500 => drain
`)
	run := replay(t, fe, f, nil)
	want := map[string]backtest.Totals{
		"web1": {OutSeconds: 3600, LongestOutSeconds: 3600, Changes: 2},
		"web2": {OutSeconds: 3000, LongestOutSeconds: 3000, Changes: 2},
		"web3": {Changes: 2, GuardrailHolds: 1, HeldSeconds: 1200},
		"web4": {},
	}
	if len(run.Servers) != len(want) {
		t.Fatalf("%d servers, want %d", len(run.Servers), len(want))
	}
	for name, w := range want {
		got := run.Target(name)
		if got == nil || got.Totals != w {
			t.Errorf("%s: %+v; want %+v", name, got, w)
		}
	}
	if c := run.Target("web3").Changes; len(c) == 0 || c[0].To != "up ready 100% (held by guardrail)" {
		t.Errorf("web3 changes %+v", c)
	}
}

// TestBacktestHistoryQuery: a scrape metric reads its history query, and
// gives what the same query as a prometheus metric gives; without one it
// is named, unless --set fixes it.
func TestBacktestHistoryQuery(t *testing.T) {
	url := prom(t)
	fe := newFetcher(t)
	body := "  app:\n    scrape: http://127.0.0.1:1/metrics\nmetrics:\n  x:\n    source: app\n    select: queue_depth\n    history: excursion\n  y: app:other\nrules:\n  - name: r\n    when: x > 500 && y < 1\n    then: drain\n    for: 10m\n"
	f := ruleFile(t, url, body)
	_, err := backtest.NewPlan(f, nil)
	if err == nil || !strings.Contains(err.Error(), `metric "y" has no history`) || strings.Contains(err.Error(), `metric "x"`) {
		t.Fatalf("plan without y's history: %v", err)
	}
	if got := replay(t, fe, f, map[string]float64{"y": 0}).Target("default").Totals.OutSeconds; got != 1200 {
		t.Errorf("out %vs, want 1200", got)
	}
}

// TestBacktestHistoryProbeExec: an http probe and a command keep no past
// values either: a metric on them reads its history query, and one
// without is named with its kind, unless --set fixes it.
func TestBacktestHistoryProbeExec(t *testing.T) {
	url := prom(t)
	fe := newFetcher(t)
	body := "  app:\n    http: http://127.0.0.1:1/healthz\n    json: {queue: queue_depth}\n  chk:\n    exec: [/bin/true]\nmetrics:\n  x:\n    source: app\n    select: queue\n    history: excursion\n  y: chk:value\nrules:\n  - name: r\n    when: x > 500 && y < 1\n    then: drain\n    for: 10m\n"
	f := ruleFile(t, url, body)
	_, err := backtest.NewPlan(f, nil)
	if err == nil || !strings.Contains(err.Error(), `metric "y" has no history: exec source "chk" keeps no past values`) || strings.Contains(err.Error(), `metric "x"`) {
		t.Fatalf("plan without y's history: %v", err)
	}
	if got := replay(t, fe, f, map[string]float64{"y": 0}).Target("default").Totals.OutSeconds; got != 1200 {
		t.Errorf("out %vs, want 1200", got)
	}
}

// TestBacktestNoData: a query that matches nothing over the whole range
// is named.
func TestBacktestNoData(t *testing.T) {
	url := prom(t)
	fe := newFetcher(t)
	f := ruleFile(t, url, "metrics:\n  x: prom:excursion\n  typo: prom:excursoin\nrules:\n  - x > 500 && typo < 1 => drain\n")
	run := replay(t, fe, f, nil)
	if len(run.NoData) != 1 || run.NoData[0] != "typo" {
		t.Errorf("no data: %v; want [typo]", run.NoData)
	}
	var b strings.Builder
	if err := backtest.NewReport(run, nil, "").WriteText(&b); err != nil || !strings.Contains(b.String(), "No data at all for typo: missing at every step") {
		t.Errorf("text: %v\n%s", err, b.String())
	}
}

// TestBacktestFleetNoServers: a fleet whose discovery finds no server over
// the whole range says so, rather than ending the report without a word.
func TestBacktestFleetNoServers(t *testing.T) {
	url := prom(t)
	fe := newFetcher(t)
	f := ruleFile(t, url, "fleet:\n  servers: {source: prom, query: upp, label: instance}\nmetrics:\n  queue: prom:max by (instance) (queue)\nrules:\n  - queue > 500 => drain\n")
	run := replay(t, fe, f, nil)
	var b strings.Builder
	if err := backtest.NewReport(run, nil, "").WriteText(&b); err != nil || !strings.Contains(b.String(), "No server known at any step") {
		t.Errorf("text: %v\n%s", err, b.String())
	}
}

// TestBacktestPrometheusDown: a Prometheus that cannot be reached fails
// the fetch.
func TestBacktestPrometheusDown(t *testing.T) {
	f := ruleFile(t, "http://127.0.0.1:1", "metrics:\n  x: prom:excursion\nrules:\n  - x > 1 => drain\n")
	p, err := backtest.NewPlan(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	fe := newFetcher(t)
	if err := fe.Fetch(context.Background(), p.Queries()); err == nil || !strings.Contains(err.Error(), `source "prom": range query "excursion"`) {
		t.Errorf("fetch from a closed port: %v", err)
	}
}
