package testutil

import (
	"os"
	"testing"
)

// LongEnv names the environment variable that runs the long tests: soak
// and load tests that take tens of seconds each. scripts/test sets it in a
// stage of its own, after the fast tests.
const LongEnv = "AGENT_LONG"

// Long skips the test unless $AGENT_LONG is set (to anything but "" or
// "0"); with -short it always skips. A long test calls it as a statement
// of its own function body (testutil.Long(t), not in a closure), which is
// how scripts/long-tests finds it.
func Long(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("long test: skipped with -short")
	}
	if v := os.Getenv(LongEnv); v == "" || v == "0" {
		t.Skip("long test: set " + LongEnv + "=1 to run it (scripts/test does, in its own stage)")
	}
}
