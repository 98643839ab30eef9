package evaluator

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependenciesStayPure holds the evaluator to its one job: it reads a
// compiled rule file and values, and answers. It must not link in HTTP
// clients, Prometheus' HTTP configuration or the PromQL parser: those
// belong to reading and checking rule files and to serving, and an
// evaluator that pulls them in is one that can grow a network call.
func TestDependenciesStayPure(t *testing.T) {
	// go test puts the go command that runs it first on the PATH.
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the dependencies with")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps listed %d packages: %q", len(deps), out)
	}
	for _, dep := range deps {
		for _, banned := range []string{"net/http", "github.com/prometheus/common/config", "github.com/prometheus/prometheus/promql/parser"} {
			if dep == banned {
				t.Errorf("the evaluator depends on %s", dep)
			}
		}
	}
}
