package testutil

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// PollLine makes one agent-check poll of the agent at addr as HAProxy
// does: connect, write send unless it is empty (HAProxy without agent-send
// writes nothing), and read one line. The whole poll must finish within
// timeout. It returns the line with its terminator.
func PollLine(addr, send string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if send != "" {
		if _, err := io.WriteString(c, send); err != nil {
			return "", err
		}
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("after %q: %w", line, err)
	}
	return line, nil
}

// Poll is PollLine with a two-second timeout that fails the test when the
// poll fails. It returns the line with its terminator.
func Poll(t testing.TB, addr, send string) string {
	t.Helper()
	line, err := PollLine(addr, send, 2*time.Second)
	if err != nil {
		t.Fatalf("poll %s: %v", addr, err)
	}
	return line
}
