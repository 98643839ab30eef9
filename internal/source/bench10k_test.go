package source

import (
	"fmt"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
	"github.com/haproxy-agent/agent/rules"
)

// Selectors50 are 50 selectors on testutil.Page10k("fam", ...): 40 single
// series, 5 sums over 20 series, 5 summed rates.
func Selectors50(t testing.TB) []*rules.Metric {
	var ms []*rules.Metric
	for i := 0; i < 40; i++ {
		ms = append(ms, metric(t, fmt.Sprintf("m%d", i), fmt.Sprintf(`fam_%d_total{path="/api/v1/item/%d"}`, i*2, i)))
	}
	for i := 0; i < 10; i++ {
		m := withAgg(metric(t, fmt.Sprintf("agg%d", i), fmt.Sprintf(`fam_%d_total{code=~"5.."}`, 80+i)), rules.AggSum)
		m.Rate = i >= 5
		ms = append(ms, m)
	}
	return ms
}

func BenchmarkScrape10k(b *testing.B) {
	body := testutil.Page10k("fam", "Requests, family %d.")
	ms := Selectors50(b)
	s := newScrapeT(b, scrapeSource("http://unused"))
	t := time.Unix(0, 0)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		t = t.Add(time.Second)
		fams, err := s.page.parse(body, false, ms)
		if err != nil {
			b.Fatal(err)
		}
		rs := s.selectAll(fams, ms, t)
		if rs[0].Err != nil {
			b.Fatal(rs[0].Err)
		}
	}
}

func TestPage10kSelect(t *testing.T) {
	body := testutil.Page10k("fam", "Requests, family %d.")
	ms := Selectors50(t)
	s := newScrapeT(t, scrapeSource("http://unused"))
	fams, err := s.page.parse(body, false, ms)
	if err != nil {
		t.Fatal(err)
	}
	rs := s.selectAll(fams, ms, time.Unix(0, 0))
	for i, r := range rs[:45] {
		if r.Err != nil {
			t.Errorf("%s: %v", ms[i].Selector, r.Err)
		}
	}
	if rs[3].Value != 6*100+3 {
		t.Errorf("m3 = %v", rs[3].Value)
	}
}
