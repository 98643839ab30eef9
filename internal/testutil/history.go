package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PromtoolBinEnv names the environment variable that may point at the
// promtool binary to use instead of the one on PATH or /usr/bin.
const PromtoolBinEnv = "PROMTOOL_BIN"

// StartPrometheusWithHistory writes openMetrics (OpenMetrics text ending in
// "# EOF", timestamps in seconds) into a new TSDB with `promtool tsdb
// create-blocks-from openmetrics`, and starts prometheus on it, scraping
// nothing, with a retention long enough to keep every backfilled block.
// Backfilled samples must be older than the head block (a few hours in the
// past is safe). It stops prometheus when the test ends. Without
// prometheus or promtool the test is skipped, or fails when
// AGENT_REQUIRE_SERVERS is set.
func StartPrometheusWithHistory(t testing.TB, openMetrics string) *Prometheus {
	t.Helper()
	bin, ok := PrometheusBinary()
	if !ok {
		promUnavailable(t, "prometheus is not installed")
	}
	promtool := RequireBinary(t, PromtoolBinEnv, "promtool", "/usr/bin/promtool")
	dir := t.TempDir()
	om := filepath.Join(dir, "history.om")
	if !strings.HasSuffix(openMetrics, "# EOF\n") {
		openMetrics += "# EOF\n"
	}
	if err := os.WriteFile(om, []byte(openMetrics), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", om, data).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(prometheusConfig(nil)), 0o644); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p, err := startPrometheus(t, bin, cfgPath, data, "--storage.tsdb.retention.time=10y")
		if err == nil {
			return p
		}
		lastErr = err
		t.Logf("prometheus attempt %d: %v", attempt+1, err)
	}
	promUnavailable(t, "prometheus cannot start: "+lastErr.Error())
	return nil
}

// OpenMetrics builds OpenMetrics text of gauges for
// StartPrometheusWithHistory. The series of one metric family must be
// added one after the other.
type OpenMetrics struct {
	b    strings.Builder
	last string
}

// Gauge adds series (such as `queue{instance="web1"}`) sampled every step
// from from (included) to to (excluded): value gives each sample, and
// false leaves the sample out (a gap in the data).
func (o *OpenMetrics) Gauge(series string, from, to time.Time, step time.Duration, value func(t time.Time) (float64, bool)) {
	family, _, _ := strings.Cut(series, "{")
	if family != o.last {
		fmt.Fprintf(&o.b, "# TYPE %s gauge\n", family)
		o.last = family
	}
	for t := from; t.Before(to); t = t.Add(step) {
		if v, ok := value(t); ok {
			fmt.Fprintf(&o.b, "%s %s %d\n", series, strconv.FormatFloat(v, 'g', -1, 64), t.Unix())
		}
	}
}

// String returns the text, ending in "# EOF".
func (o *OpenMetrics) String() string { return o.b.String() + "# EOF\n" }
