package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

func writeRules(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBacktestUsage: usage errors exit 2, a metric without history and a
// Prometheus that fails exit 1.
func TestBacktestUsage(t *testing.T) {
	prom := writeRules(t, "sources:\n  prom:\n    prometheus: http://127.0.0.1:1\nmetrics:\n  q: prom:queue\nrules:\n  - q > 1 => drain\n")
	scrape := writeRules(t, "sources:\n  prom:\n    prometheus: http://127.0.0.1:1\n  app:\n    scrape: http://127.0.0.1:1/metrics\nmetrics:\n  q: app:queue\n  cpu: host:cpu\n  ok:\n    source: app\n    select: other\n    history: sum(other)\n  p: app:p\nrules:\n  - q > 1 || cpu > 0.9 || ok > 1 => drain\n")
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"backtest"}, exitUsage, "required flag(s) '--rules' not provided"},
		{[]string{"backtest", "--rules", prom, "--from", "1h", "--start", "0"}, exitUsage, "--from does not combine with --start or --end"},
		{[]string{"backtest", "--rules", prom, "--end", "0"}, exitUsage, "--end needs --start"},
		{[]string{"backtest", "--rules", prom, "--start", "monday"}, exitUsage, `--start: time "monday": want RFC 3339`},
		{[]string{"backtest", "--rules", prom, "--start", "2026-12-01T10:00:00Z", "--end", "2026-12-01T09:00:00Z"}, exitUsage, "is not after start"},
		{[]string{"backtest", "--rules", prom, "--from=-1h"}, exitUsage, `--from "-1h": want a positive duration`},
		{[]string{"backtest", "--rules", prom, "--step", "0s"}, exitUsage, `--step "0s"`},
		{[]string{"backtest", "--rules", prom, "--service", "web"}, exitUsage, `has no service "web"`},
		{[]string{"backtest", "--rules", prom, "--server", "web1"}, exitUsage, "--server is for fleet mode"},
		{[]string{"backtest", "--rules", prom, "--set", "nope=1"}, exitUsage, `declares no metric "nope"`},
		{[]string{"backtest", "--rules", prom, "--output", "yaml"}, exitUsage, "enum value must be one of text,json"},
		{[]string{"backtest", "--rules", scrape}, exitFailure, scrape + `:7:3: metric "q" has no history: scrape source "app" keeps no past values; give its long form history: PROMQL (read from a prometheus source), or fix it with --set q=VALUE`},
		{[]string{"backtest", "--rules", prom, "--from", "1h"}, exitFailure, `agent: backtest: source "prom": range query "queue"`},
	} {
		code, out, errOut := agent(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.stderr) {
			t.Errorf("agent %s: exit %d, stderr %q; want exit %d and %q (stdout %q)", strings.Join(tc.args, " "), code, errOut, tc.code, tc.stderr, out)
		}
	}
	// Every metric without history is named, each once; --set fixes them.
	_, _, errOut := agent(t, "backtest", "--rules", scrape)
	for _, want := range []string{`metric "q" has no history`, `metric "cpu" has no history: host source "host"`, `metric "p" has no history`} {
		if strings.Count(errOut, want) != 1 {
			t.Errorf("stderr names %q %d times:\n%s", want, strings.Count(errOut, want), errOut)
		}
	}
	if strings.Contains(errOut, `"ok"`) {
		t.Errorf("a metric with history named:\n%s", errOut)
	}
	code, _, errOut := agent(t, "backtest", "--rules", scrape, "--set", "q=0", "--set", "cpu=0.1", "--set", "p=0")
	// Only ok is read, from a Prometheus that is not there.
	if code != exitFailure || !strings.Contains(errOut, `range query "sum(other)"`) {
		t.Errorf("--set all but a history without prometheus: exit %d %s", code, errOut)
	}
}

// TestBacktestCommand runs the command against a real Prometheus holding
// backfilled history, with text and JSON output and a baseline.
func TestBacktestCommand(t *testing.T) {
	base := time.Now().UTC().Truncate(time.Hour).Add(-6 * time.Hour)
	var om testutil.OpenMetrics
	om.Gauge("queue", base, base.Add(3*time.Hour), 15*time.Second, func(at time.Time) (float64, bool) {
		if d := at.Sub(base); d >= time.Hour && d < time.Hour+30*time.Minute {
			return 1000, true
		}
		return 0, true
	})
	p := testutil.StartPrometheusWithHistory(t, om.String())
	head := fmt.Sprintf("interval: 15s\nsources:\n  prom:\n    prometheus: %s\nmetrics:\n  q: prom:queue\nrules:\n", p.URL)
	newFile := writeRules(t, head+"  - name: deep queue\n    when: q > 500\n    then: drain\n    for: 10m\n")
	oldFile := writeRules(t, head+"  - q > 500 => weight 50%\n")
	start, end := strconv.FormatInt(base.Unix(), 10), base.Add(3*time.Hour).Format(time.RFC3339)

	code, out, errOut := agent(t, "backtest", "--rules", newFile, "--start", start, "--end", end, "--baseline", oldFile, "--output", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if errOut != "" {
		t.Errorf("stderr is not a terminal, yet: %q", errOut)
	}
	var rep struct {
		Steps    int `json:"steps"`
		Services []struct {
			Name    string `json:"name"`
			Changes []struct {
				Time     time.Time `json:"time"`
				From, To string
				Firing   []string `json:"firing"`
			} `json:"changes"`
			Totals map[string]float64 `json:"totals"`
		} `json:"services"`
		Baseline struct {
			Services []struct {
				Totals map[string]float64 `json:"totals"`
			} `json:"services"`
		} `json:"baseline"`
		Differences []struct {
			Seconds float64 `json:"seconds"`
		} `json:"differences"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Steps != 720 || len(rep.Services) != 1 || len(rep.Baseline.Services) != 1 {
		t.Fatalf("report: %s", out)
	}
	s := rep.Services[0]
	wantTotals := map[string]float64{"out_seconds": 1200, "reduced_weight_seconds": 0, "changes": 2, "longest_out_seconds": 1200, "guardrail_holds": 0, "held_seconds": 0}
	for k, v := range wantTotals {
		if got, ok := s.Totals[k]; !ok || got != v {
			t.Errorf("totals[%s] = %v, want %v", k, got, v)
		}
	}
	if c := s.Changes[0]; !c.Time.Equal(base.Add(70*time.Minute)) || c.From != "up ready 100%" || c.To != "up drain 100%" || len(c.Firing) != 1 || c.Firing[0] != "deep queue" {
		t.Errorf("first change %+v", c)
	}
	if c := s.Changes[1]; c.Firing == nil || len(c.Firing) != 0 || c.To != "up ready 100%" {
		t.Errorf("second change %+v: want firing [] (not null)", c)
	}
	if b := rep.Baseline.Services[0].Totals; b["reduced_weight_seconds"] != 1800 || b["out_seconds"] != 0 {
		t.Errorf("baseline totals %v", b)
	}
	// 60m–70m: weight 50% against up; 70m–90m: drain against weight 50%.
	if len(rep.Differences) != 2 || rep.Differences[0].Seconds != 600 || rep.Differences[1].Seconds != 1200 {
		t.Errorf("differences %+v", rep.Differences)
	}

	code, out, _ = agent(t, "backtest", "--rules", newFile, "--start", start, "--end", end)
	if code != exitOK || !strings.Contains(out, "  out of rotation 20m (longest 20m), reduced weight 0s, 2 changes, guardrail holds 0\n") ||
		!strings.Contains(out, base.Add(70*time.Minute).Format(time.RFC3339)+"  up ready 100% -> up drain 100%  firing: deep queue\n") {
		t.Errorf("text: exit %d\n%s", code, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if len([]rune(line)) > 100 && !strings.Contains(line, newFile) {
			t.Errorf("line longer than 100 columns: %q", line)
		}
	}

	// A run that read nothing is a failure that names what had no data,
	// not a report of a quiet service: a CI gate must not pass on it.
	typos := writeRules(t, fmt.Sprintf("interval: 15s\nsources:\n  prom:\n    prometheus: %s\nmetrics:\n  q: prom:queu\n  r: prom:queue_depth\nrules:\n  - q > 500 || r > 1 => drain\n", p.URL))
	code, out, errOut = agent(t, "backtest", "--rules", typos, "--start", start, "--end", end)
	if code != exitFailure || out != "" || !strings.Contains(errOut, "agent: backtest: "+typos+": no data at all from "+base.Format(time.RFC3339)) ||
		!strings.Contains(errOut, "no series for q, r at any step") {
		t.Errorf("no data: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// One typo among metrics that read something is named in the report.
	oneTypo := writeRules(t, fmt.Sprintf("interval: 15s\nsources:\n  prom:\n    prometheus: %s\nmetrics:\n  q: prom:queue\n  r: prom:queue_depth\nrules:\n  - q > 500 || r > 1 => drain\n", p.URL))
	if code, out, errOut = agent(t, "backtest", "--rules", oneTypo, "--start", start, "--end", end); code != exitOK || !strings.Contains(out, "No data at all for r") {
		t.Errorf("one metric without data: exit %d\n%s%s", code, out, errOut)
	}
	noServers := writeRules(t, fmt.Sprintf("interval: 15s\nsources:\n  prom:\n    prometheus: %s\nfleet:\n  servers: {source: prom, query: upp, label: instance}\nmetrics:\n  q: prom:max by (instance) (queue)\nrules:\n  - q > 500 => drain\n", p.URL))
	code, out, errOut = agent(t, "backtest", "--rules", noServers, "--start", start, "--end", end)
	if code != exitFailure || out != "" || !strings.Contains(errOut, "agent: backtest: "+noServers+": no server known at any step from ") || !strings.Contains(errOut, `discovery query "upp" named none`) {
		t.Errorf("no server: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestBacktestProgressOnlyOnTerminal: progress is for a terminal; a file,
// a pipe or a buffer get none.
func TestBacktestProgressOnlyOnTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, out := range map[string]any{"file": f, "pipe": w, "buffer": new(strings.Builder)} {
		if p := progress(out.(interface{ Write([]byte) (int, error) })); p != nil {
			t.Errorf("%s: progress shown", name)
		}
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		if progress(tty) == nil {
			t.Error("/dev/tty: no progress")
		}
	}
}
