package testutil

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// CheckHAProxyConfigs runs `haproxy -c -f` of every HAProxyVersions binary
// on each configuration file and fails the test when one refuses it or
// warns. A missing binary is logged, or fails the test when
// AGENT_REQUIRE_SERVERS is set.
func CheckHAProxyConfigs(t testing.TB, cfgs ...string) {
	t.Helper()
	for _, v := range HAProxyVersions() {
		bin := v.Bin
		if bin == "" {
			var ok bool
			if bin, ok = HAProxyBinary(); !ok {
				bin = "haproxy"
			}
		}
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv(HAProxyRequireEnv) != "" {
				t.Fatalf("haproxy %s: %v, and $%s is set", v.Name, err, HAProxyRequireEnv)
			}
			t.Logf("haproxy %s: %v: configurations not checked", v.Name, err)
			continue
		}
		for _, cfg := range cfgs {
			out, err := exec.Command(bin, "-c", "-f", cfg).CombinedOutput()
			if err != nil || strings.Contains(string(out), "[WARNING]") {
				t.Errorf("haproxy %s -c -f %s: %v\n%s", v.Name, cfg, err, out)
			}
		}
	}
}
