package responder

import (
	"net"
	"testing"
	"time"
)

// TestReadLineAfterDeadline: a line that is in the socket when the read
// deadline has already passed (the goroutine ran late, as on a starved
// machine) is still read, not taken for silence, which would send the
// default service's reply to another service's poll.
func TestReadLineAfterDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if _, err := client.Write([]byte("worker\n")); err != nil {
		t.Fatal(err)
	}
	// Loopback delivers on write; wait for the bytes anyway, without
	// consuming them.
	time.Sleep(20 * time.Millisecond)
	var buf [maxRequestLine]byte
	line, err := readLine(server, buf[:], time.Now().Add(-time.Second))
	if err != nil || string(line) != "worker" {
		t.Errorf("readLine past its deadline = %q, %v; want the waiting line %q", line, err, "worker")
	}

	// Silence past the deadline is still silence, at once.
	client2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client2.Close()
	server2, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server2.Close()
	start := time.Now()
	line, err = readLine(server2, buf[:], time.Now().Add(-time.Second))
	if err != nil || len(line) != 0 || time.Since(start) > 5*time.Second {
		t.Errorf("readLine of silence = %q, %v after %s; want empty at once", line, err, time.Since(start))
	}
}
