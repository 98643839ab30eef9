package ruletest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestAliases checks that test files follow YAML aliases as rule files do
// (one walker for both): an anchored series and check list reused
// by a second test load, and run, as if written out.
func TestAliases(t *testing.T) {
	s, err := Parse([]byte(`rule_files: [r.yaml]
tests:
  - name: first
    input_series: &series
      x: '2 2 2 2'
    expect: &checks
      - at: 3s
        op: up
        firing: &names [slow]
  - name: second
    input_series: *series
    expect: *checks
  - &third
    name: third
    input_series: {x: '0'}
    expect: [{at: 0s, firing: *names, admin: ready}]
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tests) != 3 {
		t.Fatalf("%d tests, want 3", len(s.Tests))
	}
	second := s.Tests[1]
	if len(second.Series) != 1 || second.Series[0].Metric != "x" || len(second.Expect) != 1 || *second.Expect[0].Op != "up" ||
		strings.Join(second.Expect[0].Firing, ",") != "slow" {
		t.Errorf("second test, all aliases: %+v", second)
	}
	if f := s.Tests[2].Expect[0].Firing; strings.Join(f, ",") != "slow" {
		t.Errorf("third test's firing = %v", f)
	}
}

// TestAliasedErrorsOnce checks that a mistake inside an anchored part is
// reported once, at the anchor, however often the part is reused, as
// rules reports its own.
func TestAliasedErrorsOnce(t *testing.T) {
	_, err := Parse([]byte(`rule_files: [r.yaml]
tests:
  - name: a
    input_series: {x: '1'}
    expect: &checks
      - at: 0s
        op: sideways
  - name: b
    input_series: {x: '1'}
    expect: *checks
  - name: c
    input_series: {x: '1'}
    expect: *checks
`), "t.yaml")
	want := `t.yaml:7:13: op: want one of up, down, fail, stopped, got "sideways"`
	if err == nil || err.Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
}

// TestAliasBomb checks that aliases cannot multiply the work of a test
// file without bound: 1,000 aliases of a test whose expect holds 1,000
// aliases of a check naming 1,000 rules would be a billion names to walk,
// from 17 KB. It is refused at once.
func TestAliasBomb(t *testing.T) {
	const n = 1000
	var b strings.Builder
	b.WriteString("rule_files: [r.yaml]\ntests:\n  - &t\n    name: t\n    input_series: {x: '1'}\n    expect:\n      - &c\n        at: 0s\n        firing: [")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "r%d", i)
	}
	b.WriteString("]\n")
	b.WriteString("      " + strings.Repeat("- *c\n      ", n-1) + "\n")
	b.WriteString("  " + strings.Repeat("- *t\n  ", n-1) + "\n")
	start := time.Now()
	_, err := Parse([]byte(b.String()), "t.yaml")
	took := time.Since(start)
	if err == nil || !strings.HasPrefix(err.Error(), "t.yaml:1:1: test file too large once its aliases are expanded") {
		t.Errorf("error: %.300v", err)
	}
	t.Logf("%d bytes refused in %v", b.Len(), took)
}

// TestOneDocument checks that a test file, like a rule file, holds one
// YAML document.
func TestOneDocument(t *testing.T) {
	_, err := Parse([]byte("rule_files: [r.yaml]\ntests: []\n---\nrule_files: [s.yaml]\n"), "t.yaml")
	if want := "t.yaml:3:1: a test file holds one YAML document; remove this second one"; err == nil || err.Error() != want {
		t.Errorf("error: %v\nwant: %s", err, want)
	}
}
