package pollbench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrNoSocat is returned by StartSocat when socat is not installed.
var ErrNoSocat = errors.New("socat not found in PATH")

// StartSocat starts the fork-per-poll shell agent many sites run today:
//
//	socat TCP-LISTEN:PORT,bind=127.0.0.1,fork,reuseaddr EXEC:./reply.sh
//
// where reply.sh, written into a fresh temporary directory, prints line.
// socat's default listen backlog (5) is kept on purpose: that is how it
// runs in the field.
func StartSocat(line string) (*Server, error) {
	bin, err := exec.LookPath("socat")
	if err != nil {
		return nil, ErrNoSocat
	}
	dir, err := os.MkdirTemp("", "pollbench-socat-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	script := "#!/bin/sh\nprintf '%s\\n' " + shellQuote(line) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "reply.sh"), []byte(script), 0o755); err != nil {
		cleanup()
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		cleanup()
		return nil, err
	}
	cmd := exec.Command(bin, "TCP-LISTEN:"+strconv.Itoa(port)+",bind=127.0.0.1,fork,reuseaddr", "EXEC:./reply.sh")
	cmd.Dir = dir
	s, err := startProcess(cmd, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cleanup)
	if err != nil {
		return nil, fmt.Errorf("socat: %w", err)
	}
	return s, nil
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before socat binds; startProcess then fails instead of hanging.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
