package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// RequireBinary returns the path of a program a test runs: the value of
// the environment variable env if set, then name on PATH, then fallback.
// Without it the test is skipped, or fails when AGENT_REQUIRE_SERVERS is
// set.
func RequireBinary(t testing.TB, env, name, fallback string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if fallback != "" {
		if _, err := os.Stat(fallback); err == nil {
			return fallback
		}
	}
	promUnavailable(t, name+" is not installed")
	return ""
}
