package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runTestCmd runs `agent test` with args and returns the exit code, stdout
// and stderr.
func runTestCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"test"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestTestExamples(t *testing.T) {
	code, out, errOut := runTestCmd(t, "../../examples/tests/rules.test.yaml", "../../examples/tests/host.test.yaml", "../../examples/tests/healthz.test.yaml")
	want := `Unit Testing: ../../examples/tests/rules.test.yaml
  SUCCESS

Unit Testing: ../../examples/tests/host.test.yaml
  SUCCESS

Unit Testing: ../../examples/tests/healthz.test.yaml
  SUCCESS

`
	if code != exitOK || out != want || errOut != "" {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 0, stdout:\n%s", code, out, errOut, want)
	}
}

func TestTestSemantics(t *testing.T) {
	const d = "../../internal/ruletest/testdata/"
	for _, f := range []string{"for", "keep_firing_for", "stale_after", "on_missing", "services"} {
		code, out, _ := runTestCmd(t, d+f+".test.yaml")
		if code != exitOK {
			t.Errorf("%s: exit %d:\n%s", f, code, out)
		}
	}
}

func TestTestWrongExpectation(t *testing.T) {
	const f = "../../internal/ruletest/testdata/fail.test.yaml"
	code, out, _ := runTestCmd(t, f)
	want := `Unit Testing: ` + f + `
  FAILED:
    test "off by one", at 2s, service default: reply: expected "up drain 100% #slow" got "up ready 100%"
    test "off by one", at 2s, service default: firing: expected ["slow"] got []
      firing: [], pending: ["slow"], phase: restoring
      metrics: x=2 y=0

`
	if code != exitFailure || out != want {
		t.Errorf("exit %d, stdout:\n%s\nwant exit 1, stdout:\n%s", code, out, want)
	}

	// --run selects the passing test only.
	code, out, _ = runTestCmd(t, "--run", "^pass", f)
	if want := "Unit Testing: " + f + "\n  SUCCESS\n\n"; code != exitOK || out != want {
		t.Errorf("--run: exit %d, stdout:\n%s\nwant exit 0, stdout:\n%s", code, out, want)
	}
	code, out, _ = runTestCmd(t, "--run", "nothing matches", f)
	if want := "Unit Testing: " + f + "\n  SUCCESS (no test matched --run)\n\n"; code != exitOK || out != want {
		t.Errorf("--run matching nothing: exit %d, stdout:\n%s", code, out)
	}
}

func TestTestBadFiles(t *testing.T) {
	const d = "../../internal/ruletest/testdata/bad/"
	tests := []struct{ file, want string }{
		{"unknown_metric.test.yaml", d + `unknown_metric.test.yaml:5:7: input_series: unknown metric "xx": not declared in ../../internal/ruletest/testdata/hysteresis.yaml; did you mean "x"?
` + d + `unknown_metric.test.yaml:6:7: input_series: unknown metric "queue_depth": not declared in ../../internal/ruletest/testdata/hysteresis.yaml (its metrics: "x", "y")
`},
		{"bad_series.test.yaml", d + `bad_series.test.yaml:5:15: input_series: x: bad series notation: unexpected identifier "three" in series values, expected number or "stale"
` + d + `bad_series.test.yaml:6:14: input_series: y: bad series notation: unexpected end of input in series values
`},
		{"missing_rules.test.yaml", d + `missing_rules.test.yaml:1:14: rule_files: rule file "nope.yaml" not found (looked for ../../internal/ruletest/testdata/bad/nope.yaml)
`},
		{"invalid_rules.test.yaml", d + `invalid_rules.test.yaml:1:14: rule_files: rule file "broken.yaml" does not load: 1 error
` + d + `broken.yaml:6:11: rule "uses an undeclared metric": when: unknown name z; did you mean "x"?
`},
		{"unknown_key.test.yaml", d + `unknown_key.test.yaml:2:1: unknown key "evaluation_intervall"; did you mean "evaluation_interval"?
` + d + `unknown_key.test.yaml:5:5: unknown key "input"; did you mean "input_series"?
` + d + `unknown_key.test.yaml:10:9: unknown key "state" (want one of at, service, reply, phase, op, admin, weight, maxconn, firing, pending, server, held)
`},
	}
	for _, tt := range tests {
		code, out, _ := runTestCmd(t, d+tt.file)
		indented := "    " + strings.ReplaceAll(strings.TrimSuffix(tt.want, "\n"), "\n", "\n    ") + "\n"
		want := "Unit Testing: " + d + tt.file + "\n  FAILED:\n" + indented + "\n"
		if code != exitFailure || out != want {
			t.Errorf("%s: exit %d, stdout:\n%s\nwant exit 1, stdout:\n%s", tt.file, code, out, want)
		}
	}
}

func TestTestUsage(t *testing.T) {
	if code, _, errOut := runTestCmd(t, "--run", "(", "../../examples/tests/rules.test.yaml"); code != exitUsage || errOut == "" {
		t.Errorf("bad --run: exit %d, stderr %q; want exit 2 and a message", code, errOut)
	}
	if code, _, _ := runTestCmd(t); code != exitUsage {
		t.Errorf("no file: exit %d, want 2", code)
	}
	if code, _, _ := runTestCmd(t, "no/such.test.yaml"); code != exitUsage {
		t.Errorf("missing file: exit %d, want 2", code)
	}
}

// TestOtherKindOfFileIsNamed: a test file given to check, or a rule file
// given to test, fails with only a line saying which command it is for
// (the errors of reading it as the wrong kind say nothing useful); a
// plainly broken file gets no such line.
func TestOtherKindOfFileIsNamed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "../../examples/tests/rules.test.yaml"}, "Checking ../../examples/tests/rules.test.yaml\n  FAILED:\n" +
			"    ../../examples/tests/rules.test.yaml is a test file (it has rule_files): run it with 'agent test ../../examples/tests/rules.test.yaml'\n\n"},
		{[]string{"test", "../../examples/rules.yaml"}, "Unit Testing: ../../examples/rules.yaml\n  FAILED:\n" +
			"    ../../examples/rules.yaml is a rule file (it has rules): check it with 'agent check ../../examples/rules.yaml'; a test file names it in rule_files\n\n"},
	} {
		code, out, _ := agent(t, tc.args...)
		if code != exitFailure || out != tc.want {
			t.Errorf("agent %s: exit %d, stdout:\n%s\nwant exit 1 and\n%s", strings.Join(tc.args, " "), code, out, tc.want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("rules: [nope]\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := agent(t, "check", bad); code != exitFailure || (strings.Contains(out, "is a test file") || strings.Contains(out, "is a rule file")) {
		t.Errorf("agent check on a broken rule file: exit %d, stdout:\n%s\nwant exit 1 and no hint", code, out)
	}
}
