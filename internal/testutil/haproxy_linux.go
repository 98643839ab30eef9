package testutil

import (
	"os/exec"
	"syscall"
)

// haproxySysProcAttr makes the kernel kill haproxy if the test binary dies
// without running its cleanups, so no stray haproxy outlives a crashed test.
func haproxySysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
