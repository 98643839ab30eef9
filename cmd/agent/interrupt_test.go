package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

// TestBacktestInterrupt sends SIGINT to a backtest of a year at 5s once
// Prometheus answered every range query, so during the replay: the
// process stops at once, exits 130 and prints no report.
func TestBacktestInterrupt(t *testing.T) {
	now := time.Now().UTC()
	base := now.Truncate(time.Hour).Add(-10 * time.Hour)
	var om testutil.OpenMetrics
	om.Gauge("queue", base, base.Add(2*time.Hour), 15*time.Second, func(time.Time) (float64, bool) { return 1, true })
	prom := testutil.StartPrometheusWithHistory(t, om.String())
	path := writeRules(t, fmt.Sprintf("interval: 5s\nsources:\n  prom:\n    prometheus: %s\nmetrics:\n  q: prom:queue\nrules:\n  - q > 100 => drain\n", prom.URL))
	// 365 days at 5s are 6,307,200 steps: 631 range queries.
	const queries = 631
	var stdout, stderr testutil.SyncBuffer
	cmd := exec.Command(agentBinary(t), "backtest", "--rules", path, "--from", "365d", "--step", "5s")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	// Prometheus counts a range query once it answered it.
	deadline := time.Now().Add(2 * time.Minute)
	for rangeQueries(t, prom.URL) < queries {
		select {
		case <-exited:
			t.Fatalf("backtest exited before its range queries were answered: %v\n%s%s", cmd.ProcessState, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus answered %d range queries; want %d", rangeQueries(t, prom.URL), queries)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(time.Minute): // only catches a process that ignores the signal
		t.Fatalf("backtest still running a minute after SIGINT")
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted || stdout.String() != "" || !strings.Contains(stderr.String(), "agent: backtest: interrupted") {
		t.Errorf("after SIGINT: exit %d, stdout %q, stderr %q; want exit %d, no report, interrupted", code, stdout.String(), stderr.String(), exitInterrupted)
	}
}

// rangeQueries reads how many range queries the Prometheus at url answered.
func rangeQueries(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "prometheus_http_requests_total{") && strings.Contains(line, `handler="/api/v1/query_range"`) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			n += int(v)
		}
	}
	return n
}
