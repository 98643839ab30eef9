//go:build unix

package responder

import (
	"net"
	"syscall"
	"time"
)

// readWaiting reads, without waiting, what is already in c's receive
// buffer. A read deadline that expires wakes the goroutine with an error
// even if the line arrived meanwhile: on a starved machine the wake-up can
// come long after the bytes did. Go checks the deadline before every read,
// so the deadline is cleared first; the one read made does not block.
func readWaiting(c net.Conn, buf []byte) int {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil || c.SetReadDeadline(time.Time{}) != nil {
		return 0
	}
	n := 0
	_ = rc.Read(func(fd uintptr) bool {
		if m, err := syscall.Read(int(fd), buf); err == nil && m > 0 {
			n = m
		}
		return true // never wait
	})
	return n
}
