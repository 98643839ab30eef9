package responder

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

func fleetTable(n int) *Table {
	m := make(map[string][]byte, n)
	for i := range n {
		m[fmt.Sprintf("web%04d", i)] = fmt.Appendf(nil, "up ready %d%%", i%100+1)
	}
	return NewFleetTable(m)
}

func TestFleetTable(t *testing.T) {
	var logs testutil.SyncBuffer
	h := start(t, Options{ReadTimeout: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	h.srv.Publish(fleetTable(3))
	for _, tc := range []struct {
		name, send, want, service, outcome string
	}{
		{"server by name", "web0001\n", "up ready 2%\n", "web0001", outcomeOK},
		{"no line: an empty line", "", "\n", DefaultService, outcomeOK},
		{"default: an empty line", "default\n", "\n", DefaultService, outcomeOK},
		{"unknown server", "web9999\n", "\n", "", outcomeUnknownServer},
		{"unknown server again", "web9999\n", "\n", "", outcomeUnknownServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.count(tc.service, tc.outcome)
			if got := h.poll(tc.send, false); got != tc.want {
				t.Errorf("reply %q, want %q", got, tc.want)
			}
			if got := h.count(tc.service, tc.outcome) - before; got != 1 {
				t.Errorf("polls{service=%q,outcome=%q} grew by %v, want 1", tc.service, tc.outcome, got)
			}
		})
	}
	if n := strings.Count(logs.String(), "server=web9999 "); n != 1 {
		t.Errorf("unknown server logged %d times, want once:\n%s", n, logs.String())
	}
	// An empty fleet still reads the line: every name is unknown.
	h.srv.Publish(NewFleetTable(nil))
	if got := h.poll("web0001\n", false); got != "\n" {
		t.Errorf("empty fleet: reply %q, want an empty line", got)
	}
}

func TestFleetLookupAllocatesNothing(t *testing.T) {
	s := New(Options{})
	s.Publish(fleetTable(1000))
	s.Publish(fleetTable(1000)) // the second publish reuses the counters
	c := &memConn{in: []byte("web0500\n")}
	allocs := testing.AllocsPerRun(100, func() {
		c.reset()
		s.handle(c, time.Now())
	})
	if string(c.out) != "up ready 1%\n" {
		t.Fatalf("reply %q", c.out)
	}
	if allocs != 0 {
		t.Errorf("a fleet poll allocates %v times, want 0", allocs)
	}
}

// BenchmarkHandleFleet is BenchmarkHandle for a 1,000-server fleet table,
// cycling through 1,000 distinct agent-send names.
func BenchmarkHandleFleet(b *testing.B) {
	s := New(Options{})
	s.Publish(fleetTable(1000))
	conns := make([]*memConn, 1000)
	for i := range conns {
		conns[i] = &memConn{in: fmt.Appendf(nil, "web%04d\n", i)}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c := conns[i%len(conns)]
		c.reset()
		s.handle(c, time.Now())
		i++
	}
}

// BenchmarkPublishFleet measures publishing a 1,000-server table, as serve
// does every cycle.
func BenchmarkPublishFleet(b *testing.B) {
	s := New(Options{})
	t := fleetTable(1000)
	s.Publish(t)
	b.ReportAllocs()
	for b.Loop() {
		s.Publish(t)
	}
}
