package pollbench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
)

// DefaultLine is the reply the baseline and socat responders send.
const DefaultLine = "up ready 100%"

// BaselineChildEnv, when present in a pollbench binary's environment, makes
// it serve as a baseline child (see StartBaselineProcess) with the
// variable's value as the reply line, instead of running a benchmark.
const BaselineChildEnv = "POLLBENCH_BASELINE_CHILD"

// Serve is the baseline responder: the least code that answers a constant
// line over TCP. It accepts a connection, writes line plus "\n" and closes,
// one connection at a time, reading nothing. It returns when ln is closed.
func Serve(ln net.Listener, line string) error {
	reply := []byte(line + "\n")
	for {
		c, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return err
		}
		_, _ = c.Write(reply)
		_ = c.Close()
	}
}

// StartBaseline starts the baseline responder in this process on
// 127.0.0.1:0 and returns its address and a function that stops it. It
// shares this process's CPUs and scheduler with the pollers, so for
// measurements prefer StartBaselineProcess; this one suits tests.
func StartBaseline(line string) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = Serve(ln, line)
	}()
	return ln.Addr().String(), func() {
		_ = ln.Close()
		<-done
	}, nil
}

// StartBaselineProcess runs exe, a binary that calls ServeBaselineChild
// when BaselineChildEnv is set (pollbench itself), as a separate process
// answering line, so that the baseline is measured the way an agent is: in
// its own process, competing with the pollers through the OS scheduler.
func StartBaselineProcess(exe, line string) (*Server, error) {
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), BaselineChildEnv+"="+line)
	cmd.Stderr = os.Stderr
	s, err := startChild(cmd)
	if err != nil {
		return nil, fmt.Errorf("baseline process: %w", err)
	}
	return s, nil
}

// ServeBaselineChild is the body of a baseline child process: it listens
// on 127.0.0.1:0, prints the address as one line on stdout, serves line
// until stdin reaches EOF (the parent stopped or died), then returns.
func ServeBaselineChild(stdin io.Reader, stdout io.Writer, line string) error {
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
	if err := Serve(ln, line); !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
