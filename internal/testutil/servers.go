package testutil

import (
	"net"
	"sync"
	"testing"
)

// TCPServer listens on 127.0.0.1 and hands every connection it accepts to
// handle in a goroutine of its own; the connection is handle's to close.
// When the test ends it stops accepting, closes every connection it
// accepted, and waits for the handlers to return. It returns the
// listener's address, host:port.
func TCPServer(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		conns    []net.Conn
		handlers sync.WaitGroup
	)
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			handlers.Go(func() { handle(c) })
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-accepted
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		handlers.Wait()
	})
	return ln.Addr().String()
}

// BlackHole returns the URL (http://host:port) of a TCP server that
// accepts connections and never writes nor closes them until the test
// ends: the client alone must give up.
func BlackHole(t testing.TB) string {
	t.Helper()
	return "http://" + TCPServer(t, func(net.Conn) {})
}

// ClosingServer returns the address (host:port) of a TCP server that
// accepts connections and closes them at once: a stand-in for a real
// backend that passes HAProxy's regular TCP health check.
func ClosingServer(t testing.TB) string {
	t.Helper()
	return TCPServer(t, func(c net.Conn) { c.Close() })
}
