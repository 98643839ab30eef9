package rules

import (
	"strings"
	"testing"
)

// TestFleetPush reads fleet.push and fleet.servers.haproxy, and refuses
// them half-written.
func TestFleetPush(t *testing.T) {
	const head = "metrics:\n  cpu: host:cpu\nrules:\n  - cpu > 1 => drain\nfleet:\n"
	f, err := Parse([]byte(head+"  servers: {haproxy: web}\n  push: {backend: web_servers}\n  guardrail_counts: all\n"), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Fleet.HAProxyBackend != "web" || f.Fleet.PushBackend != "web_servers" || f.Fleet.Static != nil || f.Fleet.Discovery != nil || !f.Fleet.CountsAll {
		t.Errorf("fleet = %+v", f.Fleet)
	}
	for body, want := range map[string]string{
		"  servers: [a]\n  push: {}\n":               "p.yaml:7:3: fleet: push: backend is required",
		"  servers: [a]\n  push: {backend: 'a b'}\n": `p.yaml:7:19: fleet: push: backend "a b": want a backend name`,
		"  servers: [a]\n  push: {backed: x}\n":      `unknown key "backed"`,
		"  servers: {haproxy: web, static: [a]}\n":   "haproxy and static or source/query do not combine",
		"  servers: {haproxy: web}\n  push: web\n":   "p.yaml:7:9: fleet: push",
	} {
		_, err := Parse([]byte(head+body), "p.yaml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}
