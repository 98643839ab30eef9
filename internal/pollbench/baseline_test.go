package pollbench

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestBaselineReadsTheLine: with readLine, the baseline replies only once
// the agent-send line has come, as an agent with services does; without,
// at once.
func TestBaselineReadsTheLine(t *testing.T) {
	for _, readLine := range []bool{false, true} {
		addr, stop, err := StartBaseline(DefaultLine, readLine)
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			stop()
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		// Reading the line: nothing comes in 200 ms (a stall only makes
		// that easier). Not reading it: the reply comes without a line,
		// the deadline only catching a hang.
		wait := 200 * time.Millisecond
		if !readLine {
			wait = 10 * time.Second
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(buf)
		early := n > 0
		if readLine && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("readLine: the baseline answered %q (%v) before the agent-send line", buf[:n], err)
		}
		if !readLine && !early {
			t.Errorf("without readLine: no reply at once (%v)", err)
		}
		if readLine {
			if _, err := io.WriteString(c, "worker\n"); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(c)
			if string(got) != DefaultLine+"\n" {
				t.Errorf("readLine: reply %q (%v) after the line", got, err)
			}
		}
		c.Close()
		stop()
	}
}
