package testutil

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Headless runs Debian's chromium headless with args added (the URL and
// --dump-dom or --screenshot=FILE) and returns what it wrote to stdout.
// Without chromium the test is skipped, or fails when AGENT_REQUIRE_SERVERS
// is set.
func Headless(t testing.TB, args ...string) string {
	t.Helper()
	bin := RequireBinary(t, "CHROMIUM_BIN", "chromium", "/usr/bin/chromium")
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + profile}, args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.Bytes())
	}
	return stdout.String()
}

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
