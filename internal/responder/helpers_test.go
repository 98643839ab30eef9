package responder

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
)

const (
	defaultLine = "up ready 100%\n"
	workerLine  = "up drain 50%\n"
	apiLine     = "down maint 10% #api broken\n"
)

func servicesTable() *Table {
	return NewTable([]byte(defaultLine), map[string][]byte{
		"worker": []byte(workerLine),
		"api":    []byte(apiLine),
	})
}

// harness runs a Server on 127.0.0.1 for one test.
type harness struct {
	t      *testing.T
	srv    *Server
	reg    *prometheus.Registry
	addr   string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// start runs a server with opts until the test ends, then checks that no
// goroutine is left. Without a ReadTimeout, the read deadline is 30 s, not
// the default 100 ms: a client descheduled between connect and write on a
// loaded machine must not have its line taken for none (which would select
// the default service). Tests of the deadline set their own.
func start(t *testing.T, opts Options) *harness {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
	h := &harness{t: t, reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	opts.Registerer = h.reg
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = 30 * time.Second
	}
	h.srv = New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		if err := h.stop(); err != nil {
			t.Error(err)
		}
	})
	return h
}

// stop cancels Serve and returns its result, or an error if it has not
// returned a minute later (a hang). It may run on any goroutine: it does
// not call t.Fatal.
func (h *harness) stop() error {
	h.once.Do(func() {
		h.cancel()
		select {
		case h.err = <-h.done:
		case <-time.After(time.Minute):
			h.err = errors.New("Serve did not return within a minute of cancellation")
		}
	})
	return h.err
}

func (h *harness) dial() net.Conn {
	h.t.Helper()
	c, err := net.DialTimeout("tcp", h.addr, 10*time.Second)
	if err != nil {
		h.t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// poll connects, writes send (if any), half-closes if asked, and returns
// everything received until the server closes. A reset after the server's
// close is not an error: only a timeout is.
func (h *harness) poll(send string, halfClose bool) string {
	h.t.Helper()
	c := h.dial()
	defer c.Close()
	if send != "" {
		if _, err := io.WriteString(c, send); err != nil {
			h.t.Fatal(err)
		}
	}
	if halfClose {
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			h.t.Fatal(err)
		}
	}
	return readAll(h.t, c)
}

func readAll(t *testing.T, c net.Conn) string {
	t.Helper()
	b, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("no reply nor close before the client deadline (got %q)", b)
	}
	return string(b)
}

// count is the polls counted for a service (or none: "") and outcome.
func (h *harness) count(service, outcome string) float64 {
	return value(h.srv.m.polls.WithLabelValues(service, "", outcome))
}

// countServer is count for a fleet server.
func (h *harness) countServer(server, outcome string) float64 {
	return value(h.srv.m.polls.WithLabelValues("", server, outcome))
}

// waitOpen waits until the server handles n connections; its deadline
// only catches a count that never comes.
func (h *harness) waitOpen(n int) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for value(h.srv.m.open) != float64(n) {
		if time.Now().After(deadline) {
			h.t.Fatalf("open connections: got %v, want %d", value(h.srv.m.open), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// value returns the value of a counter or gauge. (testutil.ToFloat64 would
// do, but its package needs a module go.sum does not list.)
func value(m prometheus.Metric) float64 {
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		panic(err)
	}
	if pb.Counter != nil {
		return pb.Counter.GetValue()
	}
	return pb.Gauge.GetValue()
}
