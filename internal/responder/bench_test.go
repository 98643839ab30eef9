package responder

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// BenchmarkPoll measures whole polls over loopback (dial, optional
// agent-send, read the reply, close), client included, against a baseline
// that writes a constant line and closes.
func BenchmarkPoll(b *testing.B) {
	b.Run("baseline", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			line := []byte(defaultLine)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					_, _ = c.Write(line)
					c.Close()
				}()
			}
		})
		benchPolls(b, ln.Addr().String(), "", defaultLine)
		ln.Close()
		wg.Wait()
	})
	b.Run("no-services", func(b *testing.B) {
		addr, stop := benchServer(b, NewTable([]byte(defaultLine), nil))
		defer stop()
		benchPolls(b, addr, "", defaultLine)
	})
	b.Run("agent-send", func(b *testing.B) {
		addr, stop := benchServer(b, servicesTable())
		defer stop()
		benchPolls(b, addr, "worker\n", workerLine)
	})
}

func benchServer(b *testing.B, t *Table) (addr string, stop func()) {
	s := New(Options{})
	s.Publish(t)
	ln, err := Listen(context.Background(), "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		_ = s.Serve(ctx, ln)
		close(done)
	}()
	return ln.Addr().String(), func() { cancel(); <-done }
}

func benchPolls(b *testing.B, addr, send, want string) {
	b.ReportAllocs()
	buf := make([]byte, 128)
	for b.Loop() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		if send != "" {
			if _, err := io.WriteString(c, send); err != nil {
				b.Fatal(err)
			}
		}
		n, err := io.ReadFull(c, buf[:len(want)])
		if err != nil || string(buf[:n]) != want {
			b.Fatalf("reply %q, err %v", buf[:n], err)
		}
		c.Close()
	}
}

// BenchmarkHandle measures the per-connection handler alone on an
// in-memory connection: the allocations of the poll path, without the
// kernel, accept and the client.
func BenchmarkHandle(b *testing.B) {
	for _, bc := range []struct {
		name  string
		table *Table
		send  string
		want  string
	}{
		{"no-services", NewTable([]byte(defaultLine), nil), "", defaultLine},
		{"agent-send", servicesTable(), "worker\n", workerLine},
		{"no-line-eof", servicesTable(), "", defaultLine},
		{"unknown-service", servicesTable(), "nope\n", "\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := New(Options{})
			s.Publish(bc.table)
			c := &memConn{in: []byte(bc.send)}
			b.ReportAllocs()
			for b.Loop() {
				c.reset()
				s.handle(c, time.Now())
			}
			if string(c.out) != bc.want {
				b.Fatalf("reply %q, want %q", c.out, bc.want)
			}
		})
	}
}

// memConn is a net.Conn that reads a fixed request then EOF and keeps
// what is written, reusable without allocating.
type memConn struct {
	in  []byte
	off int
	out []byte
}

var memAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}

func (c *memConn) reset() { c.off, c.out = 0, c.out[:0] }

func (c *memConn) Read(p []byte) (int, error) {
	if c.off == len(c.in) {
		return 0, io.EOF
	}
	n := copy(p, c.in[c.off:])
	c.off += n
	return n, nil
}

func (c *memConn) Write(p []byte) (int, error) {
	c.out = append(c.out, p...)
	return len(p), nil
}

func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return memAddr }
func (c *memConn) RemoteAddr() net.Addr             { return memAddr }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }
