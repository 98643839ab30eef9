//go:build !linux

package testutil

import "os/exec"

// haproxySysProcAttr does nothing where the parent-death signal is missing.
func haproxySysProcAttr(*exec.Cmd) {}
