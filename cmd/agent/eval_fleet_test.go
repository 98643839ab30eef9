package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const evalFleet = `fleet:
  servers: [web1, web2, web3, web4]
  max_unavailable: 25%
sources:
  prom:
    prometheus: http://127.0.0.1:1
    timeout: 100ms
metrics:
  queue: prom:jobs_queue_depth
rules:
  - queue > 500 => drain
  - name: slow
    when: queue > 800
    then: weight 50%
    for: 1m
`

func TestEvalFleet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.yaml")
	os.WriteFile(path, []byte(evalFleet), 0o644)

	code, out, errOut := agent(t, "eval", "--dry-run", "--rules", path, "--set", "queue=900")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"FLEET: 4 servers known, max_unavailable 25% (1 allowed out): 1 out, 3 held by the guardrail",
		// Per server, the values its rules read and the state of each
		// rule that is not inactive.
		"SERVER  VALUES     RULES                               REPLY",
		"web1    queue=900  queue > 500: firing, slow: pending  up drain 100% #queue > 500 ",
		"web4    queue=900  queue > 500: firing, slow: pending  up ready 100% #held by guardrail (1 of 4 out); queue > 500  held",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = agent(t, "eval", "--dry-run", "--rules", path, "--set", "queue=900", "--server", "web3")
	if code != exitOK {
		t.Fatalf("--server: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"SERVER web3 (held by the guardrail", "queue > 500  true    firing   drain", "slow  queue > 800  true    pending  weight 50%", "reply: up ready 100% #held by guardrail (1 of 4 out); queue > 500\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("--server output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "web1") {
		t.Errorf("--server web3 shows web1:\n%s", out)
	}

	code, out, _ = agent(t, "eval", "--dry-run", "--rules", path, "--set", "queue=900", "--output", "json")
	var rep struct {
		Servers []struct {
			Server string `json:"server"`
			Held   bool   `json:"held"`
		} `json:"servers"`
		Guardrail struct{ Held []string } `json:"guardrail"`
	}
	if err := json.Unmarshal([]byte(out), &rep); code != exitOK || err != nil {
		t.Fatalf("json: exit %d, %v:\n%s", code, err, out)
	}
	if len(rep.Servers) != 4 || !rep.Servers[3].Held || len(rep.Guardrail.Held) != 3 {
		t.Errorf("json report: %+v", rep)
	}

	if code, _, errOut := agent(t, "eval", "--dry-run", "--rules", path, "--server", "nope", "--set", "queue=1"); code != exitFailure || !strings.Contains(errOut, `no server "nope"`) {
		t.Errorf("unknown server: exit %d, %s", code, errOut)
	}
}
