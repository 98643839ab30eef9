package ruletest

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/haproxy-agent/agent/rules"
)

// TestGood runs every test file of testdata that must pass: for, keep_firing_for,
// stale_after, each on_missing policy, services.
func TestGood(t *testing.T) {
	files, err := filepath.Glob("testdata/*.test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../examples/tests/rules.test.yaml", "../../examples/tests/host.test.yaml")
	for _, f := range files {
		if filepath.Base(f) == "fail.test.yaml" {
			continue
		}
		t.Run(f, func(t *testing.T) {
			s, err := LoadFile(f)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			failures, ran := s.Run(nil)
			if ran != len(s.Tests) || ran == 0 {
				t.Errorf("ran %d tests of %d", ran, len(s.Tests))
			}
			for _, fl := range failures {
				t.Error(fl)
			}
		})
	}
}

// TestWrongExpectationFails checks that a wrong expectation fails, and what
// the failure says.
func TestWrongExpectationFails(t *testing.T) {
	s, err := LoadFile("testdata/fail.test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	failures, ran := s.Run(nil)
	if ran != 2 {
		t.Errorf("ran %d tests, want 2", ran)
	}
	var got strings.Builder
	for _, f := range failures {
		got.WriteString(f.String())
	}
	want := `test "off by one", at 2s, service default: reply: expected "up drain 100% #slow" got "up ready 100%"
test "off by one", at 2s, service default: firing: expected ["slow"] got []
  firing: [], pending: ["slow"], phase: restoring
  metrics: x=2 y=0
`
	if got.String() != want {
		t.Errorf("failures:\n%s\nwant:\n%s", got.String(), want)
	}

	failures, ran = s.Run(regexp.MustCompile("^passes$"))
	if ran != 1 || len(failures) != 0 {
		t.Errorf("with a filter: ran %d, %d failures; want 1, 0", ran, len(failures))
	}
}

func TestBadFiles(t *testing.T) {
	const d = "testdata/bad/"
	tests := []struct{ file, want string }{
		{"unknown_metric.test.yaml", d + `unknown_metric.test.yaml:5:7: input_series: unknown metric "xx": not declared in testdata/hysteresis.yaml; did you mean "x"?
` + d + `unknown_metric.test.yaml:6:7: input_series: unknown metric "queue_depth": not declared in testdata/hysteresis.yaml (its metrics: "x", "y")`},
		{"bad_series.test.yaml", d + `bad_series.test.yaml:5:15: input_series: x: bad series notation: unexpected identifier "three" in series values, expected number or "stale"
` + d + `bad_series.test.yaml:6:14: input_series: y: bad series notation: unexpected end of input in series values`},
		{"missing_rules.test.yaml", d + `missing_rules.test.yaml:1:14: rule_files: rule file "nope.yaml" not found (looked for testdata/bad/nope.yaml)`},
		{"invalid_rules.test.yaml", d + `invalid_rules.test.yaml:1:14: rule_files: rule file "broken.yaml" does not load: 1 error
` + d + `broken.yaml:6:11: rule "uses an undeclared metric": when: unknown name z; did you mean "x"?`},
		{"unknown_key.test.yaml", d + `unknown_key.test.yaml:2:1: unknown key "evaluation_intervall"; did you mean "evaluation_interval"?
` + d + `unknown_key.test.yaml:5:5: unknown key "input"; did you mean "input_series"?
` + d + `unknown_key.test.yaml:10:9: unknown key "state" (want one of at, service, reply, phase, op, admin, weight, maxconn, firing, pending, server, held)`},
		{"times.test.yaml", d + `times.test.yaml:9:13: at 1s500ms is not a multiple of the evaluation interval 1s
` + d + `times.test.yaml:11:13: at 8s is beyond the input series, which end at 6s (4 samples × interval 2s)`},
		{"names.test.yaml", d + `names.test.yaml:8:18: service: unknown service "worker" in testdata/hysteresis.yaml (its services: "default")
` + d + `names.test.yaml:11:24: firing: service default has no rule "stiky"; did you mean "sticky"?
` + d + `names.test.yaml:12:19: pending: service default has no rule "other" (its rules: "slow", "sticky")`},
		{"shape.test.yaml", d + `shape.test.yaml:1:34: rule_files: a test file tests one rule file; write one test file per rule file
` + d + `shape.test.yaml:3:5: test: missing name
` + d + `shape.test.yaml:6:9: expect: the check compares nothing: give reply, phase, op, admin, weight, maxconn, firing, pending or held
` + d + `shape.test.yaml:11:9: expect: missing at: the time of the check, such as 10s
` + d + `shape.test.yaml:13:13: op: want one of up, down, fail, stopped, got "sideways"
` + d + `shape.test.yaml:14:17: weight: want a percent from 0 to 256, such as 50 or 50%, got "300%"
` + d + `shape.test.yaml:15:18: maxconn: want a number ≥ 0, or none for a reply without maxconn, got "-1"
` + d + `shape.test.yaml:16:13: at: bad duration "soon": want a number and a unit, such as 5s or 1m30s
` + d + `shape.test.yaml:18:11: duplicate test name "values" (first at 7:11)
` + d + `shape.test.yaml:19:5: test "values": expect: write at least one check`},
		{"yaml_syntax.test.yaml", d + `yaml_syntax.test.yaml:4:1: yaml: tab character: use spaces, not tabs, for indentation`},
		{"empty.test.yaml", d + `empty.test.yaml:1:1: empty test file: write rule_files and tests`},
		{"not_mapping.test.yaml", d + `not_mapping.test.yaml:1:1: a test file is a mapping with the keys rule_files, evaluation_interval, tests, not a list`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := LoadFile(d + tt.file)
			if err == nil {
				t.Fatalf("loaded %d tests, want an error", len(s.Tests))
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", err, tt.want)
			}
		})
	}
}

func TestParseSeries(t *testing.T) {
	tests := []struct {
		in   string
		want string // values, "_" for omitted
	}{
		{"1 2 3", "1 2 3"},
		{"100+100x3", "100 200 300 400"},
		{"10-2x2", "10 8 6"},
		{"0.5x2", "0.5 0.5 0.5"},
		{"_ _ 1 2", "_ _ 1 2"},
		{"_x3 4", "_ _ _ 4"},
		{"1 _x2 1+1x1", "1 _ _ 1 2"},
	}
	for _, tt := range tests {
		samples, err := parseSeries(tt.in)
		if err != nil {
			t.Errorf("%q: %s", tt.in, err.msg)
			continue
		}
		var got []string
		for _, s := range samples {
			if s.Omitted {
				got = append(got, "_")
			} else {
				got = append(got, strconv.FormatFloat(s.Value, 'g', -1, 64))
			}
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, strings.Join(got, " "), tt.want)
		}
	}
	for _, bad := range []string{"x", "1 2 three", "1+1x", "1x1000001", "{{schema:0 sum:1 count:1}}"} {
		if _, err := parseSeries(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestParseAlone checks that Parse needs no rule file and leaves the
// defaults to Bind.
func TestParseAlone(t *testing.T) {
	s, err := Parse([]byte("rule_files: [r.yaml]\ntests:\n  - name: t\n    input_series: {a: '1 2'}\n    expect: [{at: 1s, reply: up ready 100%}]\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.EvaluationInterval != 0 || s.Tests[0].Interval != 0 {
		t.Errorf("intervals set before Bind: %v %v", s.EvaluationInterval, s.Tests[0].Interval)
	}
	if got := *s.Tests[0].Expect[0].Reply; got != "up ready 100%\n" {
		t.Errorf("reply %q: the newline is not added", got)
	}
	if RulePath("a/b/t.yaml", "r.yaml") != filepath.Join("a", "b", "r.yaml") || RulePath("t.yaml", "/x/r.yaml") != "/x/r.yaml" {
		t.Error("RulePath")
	}
}

// A failure during a ramp says where the ramp stands.
func TestFailureShowsRamp(t *testing.T) {
	s, err := Parse([]byte(`rule_files: [ramp.yaml]
tests:
  - name: wrong weight mid-ramp
    interval: 10s
    input_series:
      queue: '20x1 0x30'
    expect:
      - at: 70s
        weight: 60%
`), "testdata/ramp_fail.test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rf, err := rules.ParseFile("testdata/ramp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(rf); err != nil {
		t.Fatal(err)
	}
	failures, _ := s.Run(nil)
	if len(failures) != 1 {
		t.Fatalf("%d failures, want 1", len(failures))
	}
	got := failures[0].String()
	want := "weight: expected 60% got 50%\n  firing: [], pending: [], phase: acting, ramp: 1% to 100% from 20s to 2m\n"
	if !strings.Contains(got, want) {
		t.Errorf("failure:\n%s\nwant it to hold:\n%s", got, want)
	}
}
