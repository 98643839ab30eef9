package decisionjson

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/jsonout"
	"github.com/haproxy-agent/agent/rules"
)

// BenchmarkMarshalFleetLimits encodes the decisions of a 10,000-server
// cycle (10 rules over 5 metrics, each a vector by server) as /status
// does: one document, in pieces (jsonout.NewDocument), the decisions one
// at a time. It reports the bytes allocated per byte of document.
func BenchmarkMarshalFleetLimits(b *testing.B) {
	const servers = 10000
	names := []string{"cpu", "load1", "load5", "load15", "mem_used_ratio"}
	var y strings.Builder
	y.WriteString("fleet:\n  max_unavailable: 1%\n  servers:\n    static:\n")
	for i := range servers {
		fmt.Fprintf(&y, "      - web%05d\n", i)
	}
	y.WriteString("metrics:\n")
	for _, n := range names {
		fmt.Fprintf(&y, "  %s: host:%s\n", n, n)
	}
	y.WriteString("rules:\n")
	for i := range 10 {
		fmt.Fprintf(&y, "  - %s > %d && %s < 1e9 => weight %d%%\n", names[i%5], 990+i, names[(i+1)%5], 50+i)
	}
	f, err := rules.Parse([]byte(y.String()), "fleet.yaml")
	if err != nil {
		b.Fatal(err)
	}
	snap := evaluator.Snapshot{}
	for j, n := range names {
		vals := make(map[string]float64, servers)
		for i, s := range f.Fleet.Static {
			vals[s] = float64((i*7+j*13)%1000) + 0.5
		}
		snap[n] = evaluator.Sample{Value: math.NaN(), Servers: vals}
	}
	res := evaluator.New(f).Evaluate(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), snap, nil)
	doc := struct {
		Servers Decisions `json:"servers"`
	}{Servers: res.Servers}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	size := 0
	for b.Loop() {
		d, err := jsonout.NewDocument(200, doc)
		if err != nil {
			b.Fatal(err)
		}
		size = d.Len()
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(size), "alloc/docbyte")
	b.ReportMetric(float64(size), "docbytes")
}
