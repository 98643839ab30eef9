package rules

import (
	"strings"
	"testing"
)

// TestMixedKindsRejected loads expressions whose parts are neither numbers
// nor true/false where one is needed. expr's checker let them through
// because it cannot tell the type of a ?: whose branches differ; at run
// time they failed (`invalid operation: bool(float64)`), which on_missing:
// fire turned into firing.
func TestMixedKindsRejected(t *testing.T) {
	for _, tc := range []struct {
		name, expr, want string
		weight           bool
	}{
		{"when yields a number or a bool", "cpu > 1 ? cpu : true", "the two branches of ?: must both be numbers or both true/false", false},
		{"weight yields a bool or a number", "cpu > 1 ? true : 50", "the two branches of ?:", true},
		{"mixed branches under a comparison", "(cpu > 1 ? cpu : true) > 1", "the two branches of ?:", false},
		{"mixed branches under arithmetic", "(cpu > 1 ? true : 2) * 2 > 1", "the two branches of ?:", false},
		{"mixed branches in a function", "abs(cpu > 1 ? true : 2) > 1", "the two branches of ?:", false},
		{"bool compared with a number", "(cpu > 1 ? 1 : cpu) == true", "== compares a number with true/false", false},
		{"number as a condition", "load1 > 1 && (cpu > 1 ? 1 : cpu)", "the right operand of && must be true/false, not a number", false},
		{"number as the condition of ?:", "(cpu > 1 ? 1 : cpu) ? true : false", "the condition of ?: must be true/false", false},
		{"not of a number", "!(cpu > 1 ? 1 : cpu)", "the operand of ! must be true/false", false},
		{"modulo of a float hidden in ?:", "(cpu > 1 ? 1 : cpu) % 2 == 0", "% takes integers", false},
		{"when yields a number", "cpu > 1 ? 1 : cpu", "must be true/false, a comparison such as cpu > 0.9; this is a number", false},
		{"weight yields a bool", "cpu > 1 ? (cpu > 1 ? 1 : cpu) > 2 : load1 > 1", "must be a number, such as 100 - cpu * 50; this is true/false", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseBounded(t, exprFile(tc.expr, tc.weight))
			if err == nil {
				t.Fatalf("%q loaded", tc.expr)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q; want it to contain %q", err, tc.want)
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

// TestMixedNumbersAccepted loads expressions that mix integers and floats,
// which are all numbers to a rule, and evaluates them without error.
func TestMixedNumbersAccepted(t *testing.T) {
	for _, tc := range []struct {
		name, expr string
		weight     bool
	}{
		{"int or float weight", "cpu > 1 ? 1 : cpu", true},
		{"int or float compared", "(cpu > 1 ? 1 : cpu) > 0", false},
		{"int or float in arithmetic", "(cpu > 0.1 ? 100 : cpu) * 2 + (load1 < 1 ? 1 : 0.5)", true},
		{"bool branches", "cpu > 1 ? cpu > 2 : load1 > 0.1", false},
		{"bool compared with a bool", "(cpu > 1) == (load1 > 1)", false},
		{"integers modulo", "int(cpu * 10) % 2 == 1", false},
		{"functions of mixed numbers", "max(cpu > 1 ? 1 : cpu, 0.2) > 0", false},
		{"unary minus of mixed numbers", "-(cpu > 1 ? 1 : cpu) < 0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseBounded(t, exprFile(tc.expr, tc.weight))
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			out, err := runFirst(f)
			if err != nil {
				t.Fatalf("evaluation failed: %v", err)
			}
			switch out.(type) {
			case bool:
				if tc.weight {
					t.Errorf("weight is %v", out)
				}
			case float64, int:
				if !tc.weight {
					t.Errorf("condition is %v", out)
				}
			default:
				t.Errorf("result %T %v", out, out)
			}
		})
	}
}
