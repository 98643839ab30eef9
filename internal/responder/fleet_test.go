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
	// A second: "no line" waits it out, and a client late to write its
	// line on a loaded machine is not taken for a silent one.
	h := start(t, Options{ReadTimeout: time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	h.srv.Publish(fleetTable(3))
	for _, tc := range []struct {
		name, send, want, server, outcome string
	}{
		{"server by name", "web0001\n", "up ready 2%\n", "web0001", outcomeOK},
		// A poll naming no server is a poll HAProxy sends without
		// agent-send: counted, so that the misconfiguration shows.
		{"no line: an empty line", "", "\n", "", outcomeUnknownServer},
		{"empty line: an empty line", "\n", "\n", "", outcomeUnknownServer},
		{"default: an empty line", "default\n", "\n", "", outcomeUnknownServer},
		{"unknown server", "web9999\n", "\n", "", outcomeUnknownServer},
		{"unknown server again", "web9999\n", "\n", "", outcomeUnknownServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.countServer(tc.server, tc.outcome)
			if got := h.poll(tc.send, false); got != tc.want {
				t.Errorf("reply %q, want %q", got, tc.want)
			}
			if got := h.countServer(tc.server, tc.outcome) - before; got != 1 {
				t.Errorf("polls{server=%q,outcome=%q} grew by %v, want 1", tc.server, tc.outcome, got)
			}
		})
	}
	if got := h.count(DefaultService, outcomeOK); got != 0 {
		t.Errorf("polls{service=default,outcome=ok} = %v in fleet mode, want 0", got)
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

// TestFleetSeriesFollowTheTable checks the poll counters' series against
// the published tables: a fleet's servers under the server label and no
// service="default" series, a forgotten server's series deleted, and the
// series count bounded under churn (thousands of new names per table).
func TestFleetSeriesFollowTheTable(t *testing.T) {
	h := start(t, Options{})
	h.srv.Publish(NewTable([]byte(defaultLine), map[string][]byte{"worker": []byte(workerLine)}))
	h.poll("\n", false)
	h.srv.Publish(fleetTable(3))
	h.poll("web0001\n", false)
	series := func() map[string]bool {
		mfs, err := h.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, mf := range mfs {
			if mf.GetName() != "haproxy_agent_polls_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				var ls []string
				for _, l := range m.GetLabel() {
					if l.GetValue() != "" {
						ls = append(ls, l.GetName()+"="+l.GetValue())
					}
				}
				out[strings.Join(ls, ",")] = true
			}
		}
		return out
	}
	got := series()
	for _, want := range []string{"outcome=ok,server=web0000", "outcome=ok,server=web0001", "outcome=write_error,server=web0002", "outcome=unknown_server"} {
		if !got[want] {
			t.Errorf("no series {%s}; have %v", want, got)
		}
	}
	for s := range got {
		if strings.Contains(s, "service=") {
			t.Errorf("series {%s} left in fleet mode", s)
		}
	}
	if v := h.countServer("web0001", outcomeOK); v != 1 {
		t.Errorf("web0001 polls: %v, want 1", v)
	}

	// Churn: each table names 2,000 servers, 1,000 of them new.
	for round := range 20 {
		m := make(map[string][]byte, 2000)
		for i := range 2000 {
			m[fmt.Sprintf("churn%06d", round*1000+i)] = []byte("up")
		}
		h.srv.Publish(NewFleetTable(m))
	}
	got = series()
	if n := len(got); n > 2*2000+10 {
		t.Errorf("%d series after churn, want at most 2 per server of the last table (4,000) and the outcomes", n)
	}
	for _, gone := range []string{"outcome=ok,server=web0001", "outcome=ok,server=churn000000"} {
		if got[gone] {
			t.Errorf("series {%s} of a forgotten server is still there", gone)
		}
	}
	if !got["outcome=ok,server=churn020999"] {
		t.Error("no series for a server of the last table")
	}
}

// TestFleetLookupAllocatesNothing polls a 1,000-server table with every
// name in turn, and with an unknown name already logged: no poll may
// allocate: the lookup stays allocation-free.
func TestFleetLookupAllocatesNothing(t *testing.T) {
	s := New(Options{})
	s.Publish(fleetTable(1000))
	s.Publish(fleetTable(1000)) // the second publish reuses the counters
	conns := make([]*memConn, 1000)
	for i := range conns {
		conns[i] = &memConn{in: fmt.Appendf(nil, "web%04d\n", i), out: make([]byte, 0, 64)}
	}
	i := 0
	allocs := testing.AllocsPerRun(2000, func() {
		c := conns[i%len(conns)]
		c.reset()
		s.handle(c, time.Now())
		i++
	})
	if allocs != 0 {
		t.Errorf("a fleet poll allocates %v times, want 0", allocs)
	}
	for i, c := range conns {
		if want := fmt.Sprintf("up ready %d%%\n", i%100+1); string(c.out) != want {
			t.Fatalf("web%04d: reply %q, want %q", i, c.out, want)
		}
	}

	unknown := &memConn{in: []byte("web9999\n"), out: make([]byte, 0, 64)}
	s.handle(unknown, time.Now()) // logged the first time: may allocate
	allocs = testing.AllocsPerRun(100, func() {
		unknown.reset()
		s.handle(unknown, time.Now())
	})
	if string(unknown.out) != "\n" {
		t.Fatalf("unknown server: reply %q", unknown.out)
	}
	if allocs != 0 {
		t.Errorf("a poll of an unknown server seen before allocates %v times, want 0", allocs)
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
