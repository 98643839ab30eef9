package testutil

import (
	"bytes"
	"fmt"
)

// RuleFile10k returns a rule file over the page of Page10k (family prefix
// "app_family") served at url, with a jobs_queue_depth{queue="default"}
// gauge added: ten metrics read from the page (exact series, regexp
// selectors summed and counted, a counter rate), the host's cpu and load1,
// and n rules (at least one), the first of which, "always", always fires
// with weight 90%. The scrape and cycle benchmarks read it: changing it
// changes the figures docs/benchmarks.md reports.
func RuleFile10k(url string, n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "interval: 2s\nsources:\n  app:\n    scrape: %s\n    timeout: 2s\nmetrics:\n", url)
	b.WriteString("  queue: app:jobs_queue_depth{queue=\"default\"}\n  cpu: host:cpu\n  load1: host:load1\n")
	for i := 0; i < 6; i++ {
		fmt.Fprintf(&b, "  item%d: app:app_family_%d_total{path=\"/api/v1/item/%d\"}\n", i, i*16, i*7)
	}
	b.WriteString(`  errors:
    source: app
    select: app_family_3_total{code=~"5.."}
    aggregate: sum
  errors_rate:
    source: app
    select: app_family_4_total{code=~"5.."}
    aggregate: sum
    rate: true
  requests:
    source: app
    select: app_family_99_total
    aggregate: count
rules:
  - name: always
    when: queue >= 0
    weight: 90
`)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "  - item%d > 1e6 + %d && queue > %d || errors_rate > 1e9 => weight %d%%\n", i%6, i, i, i%90+5)
	}
	return b.Bytes()
}
