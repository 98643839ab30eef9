package backtest_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/backtest"
	"github.com/haproxy-agent/agent/internal/testutil"
)

// sparseServers is the number of fleet servers of the memory tests, each
// with one series of sparse data.
const sparseServers = 20

// TestBacktestMemoryFollowsData replays the same sparse history (20
// servers, a sample every 12 hours during 10 days) over a range of 10 days
// and over one 20 times as long: what a backtest keeps follows what
// Prometheus returned, not the number of steps of the range. Before, each
// series cost a float64 per step and each server a few bytes per step, so
// the long range kept about 15 MB more.
func TestBacktestMemoryFollowsData(t *testing.T) {
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -220)
	var om testutil.OpenMetrics
	for i := range sparseServers {
		om.Gauge(fmt.Sprintf("sparse{instance=\"web%02d\"}", i), start, start.Add(10*24*time.Hour), 12*time.Hour,
			func(at time.Time) (float64, bool) { return float64(at.Unix()/3600%1000) + float64(i), true })
	}
	url := testutil.StartPrometheusWithHistory(t, om.String()).URL
	var servers []string
	for i := range sparseServers {
		servers = append(servers, fmt.Sprintf("web%02d", i))
	}
	f := ruleFile(t, url, fmt.Sprintf(`fleet:
  servers:
    static: [%s]
metrics:
  x: prom:max by (instance) (sparse)
rules:
  - name: high
    when: x > 500
    then: drain
    on_missing: keep
`, strings.Join(servers, ", ")))
	// kept replays f over days of history at a 5m step and returns the
	// heap the fetcher and the run keep.
	kept := func(days int) (int64, *backtest.Run) {
		r, err := backtest.NewRange(start, start.Add(time.Duration(days)*24*time.Hour), 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		fe := &backtest.Fetcher{Range: r}
		run := replay(t, fe, f, nil)
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(fe)
		return int64(after.HeapAlloc) - int64(before.HeapAlloc), run
	}
	short, shortRun := kept(10)
	long, longRun := kept(200)
	if len(longRun.Servers) != sparseServers || longRun.Target("web00").Totals.Changes != shortRun.Target("web00").Totals.Changes {
		t.Fatalf("the long range saw %d servers, web00 changed %d times; the short one %d times",
			len(longRun.Servers), longRun.Target("web00").Totals.Changes, shortRun.Target("web00").Totals.Changes)
	}
	t.Logf("kept after 10 days: %d bytes; after 200 days: %d bytes", short, long)
	// The long range has 20 times the steps and the same data: it may keep
	// a little more (its timeline, its query's chunk count), not 15 MB.
	if long-short > 2<<20 {
		t.Errorf("200 days kept %d bytes more than 10 days over the same data; want under 2 MiB", long-short)
	}
}
