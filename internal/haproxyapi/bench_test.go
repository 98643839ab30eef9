package haproxyapi

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

// BenchmarkRead1000Servers is what the agent reads from one HAProxy per
// cycle: `show stat` and `show servers state` of a backend of 1,000
// servers, both parsed. cpu-ms/op is this process's user+system CPU per
// read (getrusage), the figure the 20 ms budget is about.
func BenchmarkRead1000Servers(b *testing.B) {
	var cfg strings.Builder
	cfg.WriteString(testutil.HAProxyTCPDefaults + "backend big\n    balance roundrobin\n")
	for i := range 1000 {
		fmt.Fprintf(&cfg, "    server s%d 127.0.0.1:%d weight 100 agent-check agent-port 1 agent-inter 1h\n", i, 10000+i)
	}
	h := testutil.StartHAProxy(b, cfg.String())
	c, err := New(h.Socket)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	start := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		st, err := c.ShowStat(ctx)
		if err != nil {
			b.Fatal(err)
		}
		ss, err := c.ShowServersState(ctx, "")
		if err != nil {
			b.Fatal(err)
		}
		if len(st.Rows) < 1000 || len(ss.Rows) != 1000 {
			b.Fatalf("read %d stat rows and %d server states, want 1000", len(st.Rows), len(ss.Rows))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
