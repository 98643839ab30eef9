package rules

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"
)

// parseBounded parses data and fails t if Parse panics, or if it takes
// far longer than a baseline measured in the same run: the parse of a
// benign rule file of the same size (a long description), the fastest of
// three. These tests are about minutes versus milliseconds, not about
// speed, so the bound is generous (1000x + 100 ms: a description is the
// cheapest text to parse, and the deepest expression the limits accept,
// 2,000 nested parentheses, takes 150 times as long as a description of
// its size), and a slow parse is retried up to three times: a stall of the
// machine does not repeat, an explosion does. Past 30 s a parse is taken
// as hung.
func parseBounded(t *testing.T, data []byte) (*File, error) {
	t.Helper()
	base := time.Duration(math.MaxInt64)
	benign := benignFile(len(data))
	for range 3 {
		start := time.Now()
		_, _ = Parse(benign, "benign.yaml")
		base = min(base, time.Since(start))
	}
	limit := 1000*base + 100*time.Millisecond
	var (
		f   *File
		err error
		d   time.Duration
	)
	for range 3 {
		if f, d, err = parseTimed(t, data); d <= limit {
			return f, err
		}
	}
	t.Errorf("Parse took %s three times; the same size of benign rule file %s: want at most 1000x + 100ms", d, base)
	return f, err
}

// benignFile is a valid rule file of at least n bytes that any parser
// reads in linear time: one rule with a long description.
func benignFile(n int) []byte {
	head := "metrics:\n  cpu: host:cpu\nrules:\n  - name: x\n    when: cpu > 1\n    then: drain\n    description: "
	return []byte(head + strings.Repeat("d", max(1, n-len(head)-1)) + "\n")
}

// parseTimed parses data in a goroutine and returns its result and how
// long it took, failing t if Parse panics or runs for 30 s.
func parseTimed(t *testing.T, data []byte) (*File, time.Duration, error) {
	t.Helper()
	type result struct {
		f   *File
		err error
		p   any
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		var r result
		defer func() {
			r.p = recover()
			done <- r
		}()
		r.f, r.err = Parse(data, "hostile.yaml")
	}()
	select {
	case r := <-done:
		if r.p != nil {
			t.Fatalf("Parse panicked: %v", r.p)
		}
		return r.f, time.Since(start), r.err
	case <-time.After(30 * time.Second):
		t.Fatalf("Parse still running after 30s")
	}
	return nil, 0, nil
}

// whenFile is a rule file with one rule whose condition is expr.
func whenFile(expr string) []byte {
	return fmt.Appendf(nil, "metrics:\n  cpu: host:cpu\n  load1: host:load1\nrules:\n  - name: x\n    when: %q\n    then: drain\n", expr)
}

// weightFile is a rule file with one rule whose weight is expr.
func weightFile(expr string) []byte {
	return fmt.Appendf(nil, "metrics:\n  cpu: host:cpu\n  load1: host:load1\nrules:\n  - name: x\n    when: cpu > 0\n    weight: %q\n", expr)
}

// exprFile is weightFile(expr) when weight, else whenFile(expr).
func exprFile(expr string, weight bool) []byte {
	if weight {
		return weightFile(expr)
	}
	return whenFile(expr)
}

// TestHostileExpressionsRejected loads expressions that would make one
// evaluation allocate gigabytes or loop for minutes if they loaded (expr
// has ranges, predicates such as all/map/filter, let, strings, lists and
// maps): each must be refused at load, quickly, with its reason.
func TestHostileExpressionsRejected(t *testing.T) {
	for _, tc := range []struct {
		name, expr, want string
		weight           bool
	}{
		// Measured before the allow-list: 2m27s for one evaluation.
		{"nested predicates over a let", "let x = 1..200; all(x, all(x, all(x, all(x, # > 0))))", "let and ; are not available in rules", false},
		{"nested predicates over ranges", "all(1..999, all(1..999, # > 0))", "function all is not available", false},
		{"range of a billion", "cpu in 1..1000000000", "operator in is not available", false},
		{"range in max", "max(1..999999) > cpu", "operator .. is not available", false},
		{"range as weight", "max(1..999999)", "operator .. is not available", true},
		{"map", "map([cpu], # * 2) == [cpu]", "function map is not available", false},
		{"filter", "filter([cpu], # > 0) == []", "function filter is not available", false},
		{"reduce", "reduce([cpu], #acc + #, 0) > 1", "function reduce is not available", false},
		{"count", "count([cpu], # > 0) > 0", "function count is not available", false},
		{"sum", "sum([cpu, cpu]) > 1", "function sum is not available", false},
		{"repeat", `repeat("a", 1000000000) == ""`, "function repeat is not available", false},
		{"len", `len("abc") > 1`, "function len is not available", false},
		{"now", "now() != nil", "function now is not available", false},
		{"toJSON", `toJSON(cpu) == "1"`, "function toJSON is not available", false},
		{"list literal", "[cpu, cpu] == [cpu, cpu]", "lists are not available", false},
		{"map literal", `{"a": cpu}.a > 1`, "maps are not available", false},
		{"string", `"a" + "b" == "ab"`, "strings are not available", false},
		{"matches", `"aaaa" matches "(a*)*b"`, "strings are not available", false},
		{"env", "$env.cpu > 0", "$env is not available", false},
		{"nil", "cpu == nil", "nil is not available", false},
		{"slice", "[cpu][0:1] == []", "lists are not available", false},
		{"pipe", "[cpu] | len() > 0", "function len is not available", false},
		{"too many nodes", strings.Repeat("cpu+", 1010) + "cpu > 1", "expression too complex", false},
		{"too many unary nodes", strings.Repeat("!", 2000) + "true", "expression too complex", false},
		{"10,000 nesting levels", strings.Repeat("(", 10000) + "cpu" + strings.Repeat(")", 10000) + " > 1", "expression too long", false},
		{"too long", "cpu > " + strings.Repeat("1", 5000), "expression too long", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseBounded(t, exprFile(tc.expr, tc.weight))
			if err == nil {
				out, rerr := runFirst(f)
				t.Fatalf("loaded; an evaluation gives %v, %v", out, rerr)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q; want it to contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "hostile.yaml:") {
				t.Errorf("error without a position: %q", err)
			}
		})
	}
}

// TestAllowedExpressionsStayCheap loads the largest expressions the
// allow-list and limits still accept and checks that one evaluation is
// fast: run time is linear in the expression's nodes.
func TestAllowedExpressionsStayCheap(t *testing.T) {
	baseline, err := Parse(whenFile(strings.Repeat("cpu + ", 450)+"cpu > 1"), "baseline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, expr string
		weight     bool
	}{
		{"2,000 nesting levels", strings.Repeat("(", 2000) + "cpu" + strings.Repeat(")", 2000) + " > 1", false},
		{"long sum", strings.Repeat("cpu + ", 450) + "cpu > 1", false},
		{"long power chain", strings.Repeat("cpu ** ", 450) + "cpu > 1", false},
		{"nested functions", strings.Repeat("abs(", 300) + "cpu" + strings.Repeat(")", 300) + " > 0", false},
		{"nested conditionals", "(" + strings.Repeat("cpu > 0.5 ? ", 150) + "1" + strings.Repeat(" : 2", 150) + ") > 0", false},
		{"long logic", strings.Repeat("cpu > 0 && ", 200) + "load1 >= 0", false},
		{"weight with functions", "max(min(100 * (1 - cpu), 100), 1) + round(floor(ceil(abs(load1))))", true},
		{"division by zero is a number", "cpu / 0 > 1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseBounded(t, exprFile(tc.expr, tc.weight))
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			// Against the baseline, measured in the same run, of a sum of
			// 450 terms: the longest linear expression the limits accept.
			// An evaluation that grew with the nesting (exponential, or
			// quadratic in the nodes) would be hundreds of times slower.
			per, base := evalTimes(t, f, baseline)
			t.Logf("one evaluation: %s; the 450-term sum: %s (%.1fx)", per, base, float64(per)/float64(base))
			if per > 20*base+100*time.Microsecond {
				t.Errorf("one evaluation takes %s; one of a 450-term sum %s: want at most 20x + 100µs", per, base)
			}
		})
	}
}

// evalTimes is the time one evaluation of the first rule of f and of base
// take: each the fastest of seven batches of 100, the batches of the two
// taken in turn, so that a stall of the machine (a shared, loaded test
// machine has them) would have to hit all seven batches of one and none
// of the other to decide.
func evalTimes(t *testing.T, f, base *File) (time.Duration, time.Duration) {
	t.Helper()
	batch := func(f *File) time.Duration {
		start := time.Now()
		const runs = 100
		for range runs {
			if _, err := runFirst(f); err != nil {
				t.Fatalf("evaluation failed: %v", err)
			}
		}
		return time.Since(start) / runs
	}
	bestF, bestBase := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	for range 7 {
		bestF = min(bestF, batch(f))
		bestBase = min(bestBase, batch(base))
	}
	return bestF, bestBase
}

// runFirst evaluates the first rule of f with every metric at 0.5.
func runFirst(f *File) (any, error) {
	env := map[string]any{}
	for _, m := range f.Metrics {
		env[m.Name] = 0.5
	}
	r := f.Services[0].Rules[0]
	prog := r.When
	if r.Weight != nil {
		prog = r.Weight
	}
	var machine vm.VM
	return machine.Run(prog, env)
}

// TestHostileFiles feeds whole files built to exhaust a YAML parser or the
// limits: each is rejected (or loads) in bounded time without a panic.
func TestHostileFiles(t *testing.T) {
	// Nine levels of nine aliases: 9^9 rule items once expanded.
	laughs := "metrics:\n  cpu: host:cpu\nrules:\n  - &a [\"cpu > 1 => drain\",\"cpu > 1 => drain\",\"cpu > 1 => drain\"]\n"
	prev := "a"
	for i := range 9 {
		name := string(rune('b' + i))
		laughs += fmt.Sprintf("  - &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", name, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	var manyRules strings.Builder
	manyRules.WriteString("metrics:\n  cpu: host:cpu\nrules:\n")
	for i := range MaxRules + 1 {
		fmt.Fprintf(&manyRules, "  - name: r%d\n    when: cpu > %d\n    then: drain\n", i, i)
	}
	var manyMetrics strings.Builder
	manyMetrics.WriteString("metrics:\n")
	for i := range MaxMetrics + 1 {
		fmt.Fprintf(&manyMetrics, "  m%d: host:cpu\n", i)
	}
	manyMetrics.WriteString("rules:\n  - m0 > 1 => drain\n")

	for _, tc := range []struct {
		name, data, want string
	}{
		{"billion laughs", laughs, ""},
		{"10,000 nested YAML lists", "rules: " + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "\n", ""},
		{"100,000 nested YAML maps", "rules: " + strings.Repeat("{a: ", 100000) + "1" + strings.Repeat("}", 100000) + "\n", ""},
		{"over 4 MiB", "rules: []\n#" + strings.Repeat("x", MaxFileSize) + "\n", "rule file too large"},
		{"too many rules", manyRules.String(), "too many rules"},
		{"too many metrics", manyMetrics.String(), "too many metrics"},
		{"binary garbage", "\x00\xff\xfe\x01rules:\x00[\xc3\x28]", ""},
		{"a huge description", "metrics:\n  cpu: host:cpu\nrules:\n  - name: x\n    when: cpu > 1\n    then: drain\n    description: " + strings.Repeat("d", 1<<20) + "\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseBounded(t, []byte(tc.data))
			if err == nil {
				if tc.want != "" {
					t.Fatalf("loaded; want an error containing %q", tc.want)
				}
				return
			}
			msg := err.Error()
			if tc.want != "" && !strings.Contains(msg, tc.want) {
				if len(msg) > 300 {
					msg = msg[:300] + "..."
				}
				t.Errorf("error %q; want it to contain %q", msg, tc.want)
			}
		})
	}
}
