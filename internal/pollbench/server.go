package pollbench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Server is a responder process started for a run: the baseline child or
// socat. Stop it when done.
type Server struct {
	// Addr is where it listens, 127.0.0.1:PORT.
	Addr string
	// PID is its process id.
	PID int

	cmd      *exec.Cmd
	cleanup  func()
	stopOnce sync.Once
	stopErr  error
}

// Stop terminates the process (SIGTERM, then SIGKILL after a second),
// waits for it and removes its files. It is safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
		if s.cleanup != nil {
			s.cleanup()
		}
	})
	return s.stopErr
}

// CPU returns the CPU time (user+system) the process and its reaped
// children have used so far, read from /proc. ok is false where /proc is
// not available.
func (s *Server) CPU() (d time.Duration, ok bool) {
	return procCPU(s.PID)
}

// Memory returns the process's resident memory, read from /proc. ok is
// false where /proc is not available.
func (s *Server) Memory() (Memory, bool) { return ProcMemory(s.PID) }

// clockTick is USER_HZ, the unit of /proc/PID/stat times; it is 100 on
// every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name may contain spaces; fields resume after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime, stime, cutime, cstime are fields 14-17.
	if len(f) < 15 {
		return 0, false
	}
	var ticks int64
	for _, x := range f[11:15] {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, true
}

// startProcess starts cmd and waits until addr accepts connections.
func startProcess(cmd *exec.Cmd, addr string, cleanup func()) (*Server, error) {
	if err := cmd.Start(); err != nil {
		if cleanup != nil {
			cleanup()
		}
		return nil, err
	}
	s := &Server{Addr: addr, PID: cmd.Process.Pid, cmd: cmd, cleanup: cleanup}
	if err := waitListening(addr, 3*time.Second); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// startChild starts cmd, which prints its listening address as its first
// line of output, and returns once that address is known.
func startChild(cmd *exec.Cmd) (*Server, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// The child exits when its stdin closes, so it does not outlive us.
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{PID: cmd.Process.Pid, cmd: cmd, cleanup: func() { _ = in.Close() }}
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case a := <-addr:
		if a == "" {
			_ = s.Stop()
			return nil, errors.New("baseline child exited without an address")
		}
		s.Addr = a
		return s, nil
	case <-time.After(5 * time.Second):
		_ = s.Stop()
		return nil, errors.New("baseline child did not report its address within 5s")
	}
}

func waitListening(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		p := poller{addr: addr, buf: make([]byte, 0, 256), rst: true}
		k, err := p.poll(time.Now().Add(500 * time.Millisecond))
		if k != Refused {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after %s: %w", addr, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
