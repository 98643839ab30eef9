package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestHashPassword runs `agent hash-password` with the password on stdin:
// the hash it prints is bcrypt's, at the cost asked, of the first line
// without its line ending; no password is an error.
func TestHashPassword(t *testing.T) {
	bin := agentBinary(t)
	for _, tc := range []struct {
		stdin, password string
		args            []string
		cost            int
	}{
		{"s3cret\n", "s3cret", nil, 10},
		{"s3cret\r\nsecond line\n", "s3cret", []string{"--cost", "4"}, 4},
		{"no newline", "no newline", nil, 10},
	} {
		cmd := exec.Command(bin, append([]string{"hash-password"}, tc.args...)...)
		cmd.Stdin = strings.NewReader(tc.stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("stdin %q: %v\n%s", tc.stdin, err, stderr.String())
		}
		hash := bytes.TrimSuffix(out, []byte("\n"))
		if err := bcrypt.CompareHashAndPassword(hash, []byte(tc.password)); err != nil {
			t.Errorf("stdin %q: hash %q does not match %q: %v", tc.stdin, hash, tc.password, err)
		}
		if c, err := bcrypt.Cost(hash); err != nil || c != tc.cost {
			t.Errorf("stdin %q: cost %d, %v; want %d", tc.stdin, c, err, tc.cost)
		}
	}
	for stdin, want := range map[string]string{"": "no password on stdin", "\n": "no password on stdin", strings.Repeat("x", 73): "bcrypt takes at most 72"} {
		cmd := exec.Command(bin, "hash-password")
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); err == nil || code != exitFailure || !strings.Contains(string(out), want) {
			t.Errorf("stdin %q: exit %d, output %q; want exit 1 and %q", stdin, code, out, want)
		}
	}
	if code, _, errOut := agent(t, "hash-password", "--cost", "99"); code != exitUsage || !strings.Contains(errOut, "--cost 99") {
		t.Errorf("--cost 99: exit %d, %q", code, errOut)
	}
}
