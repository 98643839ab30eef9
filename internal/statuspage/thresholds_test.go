package statuspage

import (
	"reflect"
	"testing"

	"github.com/haproxy-agent/agent/rules"
)

// TestThresholds reads where rules turn from their compiled comparisons,
// on either side, in any branch of a condition, and leaves out what it
// cannot read as a line.
func TestThresholds(t *testing.T) {
	f, err := rules.Parse([]byte(`
metrics:
  cpu: host:cpu
  load1: host:load1
  mem: host:mem_used_ratio
rules:
  - cpu > 0.9 => drain
  - name: busy
    when: 0.5 <= cpu && load1 >= 8 || mem * 100 > 95
    then: weight 50%
  - load1 > mem => weight 80%
  - name: cold
    when: load1 < -2
    then: weight 10%
services:
  worker:
    rules:
      - cpu > 0.9 => maint
`), "r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := Thresholds(f)
	want := map[string][]Threshold{
		"cpu": {
			{Value: 0.5, Rules: []string{"cpu >= 0.5 → weight 50% (rule busy)"}},
			{Value: 0.9, Rules: []string{"cpu > 0.9 → drain", "cpu > 0.9 → maint"}},
		},
		"load1": {
			{Value: -2, Rules: []string{"load1 < -2 → weight 10% (rule cold)"}},
			{Value: 8, Rules: []string{"load1 >= 8 → weight 50% (rule busy)"}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("thresholds =\n%v\nwant\n%v", got, want)
	}
}
