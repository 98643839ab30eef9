//go:build !unix

package responder

import "net"

// readWaiting is a no-op where a non-blocking read is not at hand: the
// deadline's outcome stands.
func readWaiting(net.Conn, []byte) int { return 0 }
