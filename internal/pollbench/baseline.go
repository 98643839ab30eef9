package pollbench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"time"
)

// DefaultLine is the reply the baseline and socat responders send.
const DefaultLine = "up ready 100%"

// BaselineChildEnv, when present in a pollbench binary's environment, makes
// it serve as a baseline child (see StartBaselineProcess) with the
// variable's value as the reply line, instead of running a benchmark.
const BaselineChildEnv = "POLLBENCH_BASELINE_CHILD"

// BaselineReadEnv, set to "1" beside BaselineChildEnv, makes the baseline
// child read the agent-send line before it replies.
const BaselineReadEnv = "POLLBENCH_BASELINE_READ"

// baselineReadTimeout bounds the baseline's wait for an agent-send line, so
// that a poller that sends nothing cannot stop the serial loop for good.
const baselineReadTimeout = time.Second

// Serve is the baseline responder: the least code that answers a constant
// line over TCP. It accepts a connection, reads the agent-send line if
// readLine is set (as an agent with services must before it can pick the
// reply), writes line plus "\n" and closes, one connection at a time. It
// returns when ln is closed.
func Serve(ln net.Listener, line string, readLine bool) error {
	reply := []byte(line + "\n")
	var buf [MaxLine]byte
	for {
		c, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return err
		}
		if readLine {
			readUntilNewline(c, buf[:])
		}
		_, _ = c.Write(reply)
		_ = c.Close()
	}
}

// readUntilNewline reads from c until a newline, EOF, an error, a full buf
// or baselineReadTimeout, whichever comes first.
func readUntilNewline(c net.Conn, buf []byte) {
	_ = c.SetReadDeadline(time.Now().Add(baselineReadTimeout))
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		if bytes.IndexByte(buf[n:n+m], '\n') >= 0 || err != nil {
			return
		}
		n += m
	}
}

// StartBaseline starts the baseline responder in this process on
// 127.0.0.1:0, reading an agent-send line first if readLine is set, and
// returns its address and a function that stops it. It shares this
// process's CPUs and scheduler with the pollers, so for measurements
// prefer StartBaselineProcess; this one suits tests.
func StartBaseline(line string, readLine bool) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = Serve(ln, line, readLine)
	}()
	return ln.Addr().String(), func() {
		_ = ln.Close()
		<-done
	}, nil
}

// StartBaselineProcess runs exe, a binary that calls ServeBaselineChild
// when BaselineChildEnv is set (pollbench itself), as a separate process
// answering line (after reading the agent-send line if readLine is set),
// so that the baseline is measured the way an agent is: in its own
// process, competing with the pollers through the OS scheduler.
func StartBaselineProcess(exe, line string, readLine bool) (*Server, error) {
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), BaselineChildEnv+"="+line)
	if readLine {
		cmd.Env = append(cmd.Env, BaselineReadEnv+"=1")
	}
	cmd.Stderr = os.Stderr
	s, err := startChild(cmd)
	if err != nil {
		return nil, fmt.Errorf("baseline process: %w", err)
	}
	return s, nil
}

// ServeBaselineChild is the body of a baseline child process: it listens
// on 127.0.0.1:0, prints the address as one line on stdout, serves line
// (reading the agent-send line first if readLine is set) until stdin
// reaches EOF (the parent stopped or died), then returns.
func ServeBaselineChild(stdin io.Reader, stdout io.Writer, line string, readLine bool) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	if _, err := fmt.Fprintln(stdout, ln.Addr().String()); err != nil {
		return err
	}
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		_ = ln.Close()
	}()
	if err := Serve(ln, line, readLine); !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
