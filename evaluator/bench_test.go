package evaluator

import (
	"fmt"
	"testing"

	"github.com/haproxy-agent/agent/rules"
)

// BenchmarkEvaluate measures one evaluation of n rules over 10 metrics, in
// steady state (values change every cycle, a tenth of the rules fire).
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			names := make([]string, 10)
			for i := range names {
				names[i] = fmt.Sprintf("m%d", i)
			}
			bl := newBuilder(b, names...)
			for i := 0; i < n; i++ {
				bl.rule("default", rules.Rule{
					Name:   fmt.Sprintf("r%d", i),
					Expr:   fmt.Sprintf("m%d > %d && m%d < 1e9", i%10, i%10*100, (i+1)%10),
					Action: act("", "", 50+i%50, rules.Unset),
				})
			}
			e := New(bl.file)
			s := Snapshot{}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				for j, name := range names {
					s[name] = Sample{Value: float64(j*100 + i%2)}
				}
				e.Evaluate(t0, s, nil)
			}
		})
	}
}
