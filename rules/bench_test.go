package rules

import (
	"fmt"
	"strings"
	"testing"
)

// benchFile is a rule file with n rules over a few metrics, in both forms.
func benchFile(n int) []byte {
	var b strings.Builder
	b.WriteString(`sources:
  app:
    scrape: http://127.0.0.1:8080/metrics
metrics:
  cpu: host:cpu
  load1: host:load1
  queue: app:jobs_queue_depth{queue="default"}
rules:
`)
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			fmt.Fprintf(&b, "  - queue > %d && cpu > 0.%d => weight %d%%\n", i, i%10, i%100)
			continue
		}
		fmt.Fprintf(&b, `  - name: rule-%d
    when: load1 > %d || queue > %d
    weight: max(10, 100 * (1 - cpu))
    for: 30s
    on_missing: skip
`, i, i, i*2)
	}
	return []byte(b.String())
}

func BenchmarkParse(b *testing.B) {
	data := benchFile(1000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := Parse(data, "bench.yaml")
		if err != nil {
			b.Fatal(err)
		}
		if f.RuleCount() != 1000 {
			b.Fatalf("%d rules", f.RuleCount())
		}
	}
}
