package ruletest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fleetRuleFile = `fleet:
  servers: {source: prom, query: up, label: server}
  max_unavailable: 1
sources:
  prom:
    prometheus: http://127.0.0.1:1
metrics:
  queue: prom:q
rules:
  - queue > 5 => drain
`

func loadFleetTest(t *testing.T, test string) (*Suite, error) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "fleet.yaml"), []byte(fleetRuleFile), 0o644)
	path := filepath.Join(dir, "fleet.test.yaml")
	os.WriteFile(path, []byte("rule_files: [fleet.yaml]\nevaluation_interval: 1s\ntests:\n"+test), 0o644)
	return LoadFile(path)
}

func TestFleetExample(t *testing.T) {
	s, err := LoadFile("../../examples/tests/fleet.test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	failures, ran := s.Run(nil)
	if ran != 2 || len(failures) > 0 {
		t.Errorf("ran %d, failures %v", ran, failures)
	}
}

func TestFleetTestFailureNamesServer(t *testing.T) {
	s, err := loadFleetTest(t, `  - name: two deep
    input_series:
      queue{server="a"}: '9 9'
      queue{server="b"}: '9 9'
    expect:
      - at: 1s
        server: b
        held: false
`)
	if err != nil {
		t.Fatal(err)
	}
	failures, _ := s.Run(nil)
	if len(failures) != 1 {
		t.Fatalf("failures %v, want 1", failures)
	}
	want := `test "two deep", at 1s, server b: held: expected false got true
  firing: ["queue > 5"], pending: [], phase: acting
  metrics: queue=9
`
	if got := failures[0].String(); got != want {
		t.Errorf("failure:\n%s\nwant:\n%s", got, want)
	}
}

func TestFleetTestBad(t *testing.T) {
	for _, tc := range []struct{ test, want string }{
		{`  - name: x
    input_series:
      queue{host="a"}: '1'
    expect:
      - {at: 0s, server: a, op: up}
`, `input_series: queue{host="a"}: the fleet names its servers by the label "server"`},
		{`  - name: x
    input_series:
      queue{server="a"}: '1'
    expect:
      - {at: 0s, op: up}
`, `name the server whose reply is checked with server:`},
		{`  - name: x
    input_series:
      queue{server="a"}: '1'
    expect:
      - {at: 0s, server: b, op: up}
`, `server: the test knows no server "b"`},
		{`  - name: x
    input_series:
      queue{server="a"}: '1'
      queue: '1'
    expect:
      - {at: 0s, server: a, service: default, op: up}
`, `queue has a shared series and series per server`},
		{`  - name: x
    input_series:
      queue{server=a}: '1'
    expect:
      - {at: 0s, server: a, op: up}
`, `input_series: "queue{server=a}": want a metric name, or a fleet server's series`},
	} {
		_, err := loadFleetTest(t, tc.test)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}
