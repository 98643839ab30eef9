package source

import (
	"fmt"
	"math"

	"github.com/haproxy-agent/agent/rules"
)

// reduce turns the values of the matched series into the metric's value.
// what names the things counted in the several-without-aggregate error
// ("series matched", "samples returned").
func reduce(vals []float64, agg rules.Aggregation, what string) (float64, error) {
	if len(vals) > 1 && agg == rules.AggNone {
		return 0, fmt.Errorf("%d %s; set aggregate", len(vals), what)
	}
	var v float64
	switch agg {
	case rules.AggNone:
		v = vals[0]
	case rules.AggSum, rules.AggAvg:
		for _, x := range vals {
			v += x
		}
		if agg == rules.AggAvg {
			v /= float64(len(vals))
		}
	case rules.AggMin:
		v = vals[0]
		for _, x := range vals[1:] {
			if x < v || math.IsNaN(v) {
				v = x
			}
		}
	case rules.AggMax:
		v = vals[0]
		for _, x := range vals[1:] {
			if x > v || math.IsNaN(v) {
				v = x
			}
		}
	case rules.AggCount:
		v = float64(len(vals))
	default:
		return 0, fmt.Errorf("unknown aggregate %q", agg)
	}
	// A NaN result is returned as such: the collector makes it missing.
	return v, nil
}
