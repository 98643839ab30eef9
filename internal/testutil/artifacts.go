package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// ArtifactPath returns where a test keeps a file for people to look at
// after the run (a screenshot): in $AGENT_TEST_ARTIFACTS if set, else in
// the package's testdata/artifacts (ignored by git). It logs the path.
func ArtifactPath(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("AGENT_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path, err := filepath.Abs(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("artifact: %s", path)
	return path
}
