package pollbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

func checkCounts(t *testing.T, r Report) {
	t.Helper()
	sum := r.OK
	for _, k := range ErrorKinds() {
		sum += r.Errors[k]
	}
	if sum != r.Polls {
		t.Errorf("ok %d + errors %v = %d, want polls %d", r.OK, r.Errors, sum, r.Polls)
	}
}

func TestBaselineClosedLoop(t *testing.T) {
	addr, stop, err := StartBaseline(DefaultLine, false)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	r, err := Run(context.Background(), Config{Addr: addr, Concurrency: 8, Count: 200, ExpectLine: DefaultLine})
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, r)
	if r.Polls != 200 || r.OK != 200 || r.ErrorCount() != 0 {
		t.Fatalf("polls %d ok %d errors %v %v", r.Polls, r.OK, r.Errors, r.Examples)
	}
	if r.Throughput <= 0 || r.Latency.P50 <= 0 || r.Latency.P99 < r.Latency.P50 || r.Latency.Max < r.Latency.P999 {
		t.Errorf("implausible figures: %+v", r)
	}
	if r.Mode != "closed" || r.Concurrency != 8 {
		t.Errorf("mode %q concurrency %d", r.Mode, r.Concurrency)
	}
}

func TestBaselineOpenLoop(t *testing.T) {
	addr, stop, err := StartBaseline(DefaultLine, false)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	re, _ := CompileExpect(`up ready \d+%`)
	start := time.Now()
	r, err := Run(context.Background(), Config{Addr: addr, Rate: 1000, Count: 200, Expect: re})
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, r)
	if r.Polls != 200 || r.OK != 200 {
		t.Fatalf("polls %d ok %d errors %v %v", r.Polls, r.OK, r.Errors, r.Examples)
	}
	// 200 polls at 1000/s are scheduled over 200ms: the open loop keeps
	// the schedule instead of running as fast as it can.
	if el := time.Since(start); el < 190*time.Millisecond {
		t.Errorf("200 polls at 1000/s took %v", el)
	}
	if r.Mode != "open" || r.Elapsed != 200*time.Millisecond {
		t.Errorf("mode %q elapsed %v", r.Mode, r.Elapsed)
	}
}

func TestDurationBoundsRun(t *testing.T) {
	addr, stop, err := StartBaseline(DefaultLine, false)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, cfg := range []Config{
		{Addr: addr, Concurrency: 2, Duration: 200 * time.Millisecond},
		{Addr: addr, Rate: 500, Duration: 200 * time.Millisecond},
	} {
		// A run that ignored its duration would go on until this
		// context ends, a minute later: far beyond any stall.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		start := time.Now()
		r, err := Run(ctx, cfg)
		el := time.Since(start)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if el > 30*time.Second {
			t.Errorf("%s loop ran %v for a 200ms duration", r.Mode, el)
		}
		if r.Polls == 0 || r.ErrorCount() != 0 {
			t.Errorf("%s: polls %d errors %v", r.Mode, r.Polls, r.Examples)
		}
	}
}

func TestSendIsWrittenFirst(t *testing.T) {
	addr := testutil.TCPServer(t, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		name := strings.TrimSpace(string(buf[:n]))
		c.Write([]byte("up ready 50% #" + name + "\r\n"))
	})
	r, err := Run(context.Background(), Config{Addr: addr, Concurrency: 2, Count: 20, Send: "worker\n", ExpectLine: "up ready 50% #worker"})
	if err != nil {
		t.Fatal(err)
	}
	if r.OK != 20 {
		t.Fatalf("ok %d of %d: %v", r.OK, r.Polls, r.Examples)
	}
}

func TestErrorKinds(t *testing.T) {
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	reply := func(s string) func(net.Conn) {
		return func(c net.Conn) {
			c.Write([]byte(s))
			c.Close()
		}
	}
	tests := []struct {
		name   string
		addr   func(t *testing.T) string
		expect string
		want   Kind
	}{
		{"refused", func(*testing.T) string { return free() }, "", Refused},
		{"incomplete", func(t *testing.T) string { return testutil.TCPServer(t, reply("up ready")) }, "", Incomplete},
		{"closed without data", func(t *testing.T) string { return testutil.TCPServer(t, reply("")) }, "", Incomplete},
		{"wrong reply", func(t *testing.T) string { return testutil.TCPServer(t, reply("down\n")) }, "up ready 100%", WrongReply},
		{"timeout", func(t *testing.T) string {
			// Silent until the client gives up, however late that is.
			return testutil.TCPServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c); c.Close() })
		}, "", Timeout},
		{"reset", func(t *testing.T) string {
			return testutil.TCPServer(t, func(c net.Conn) {
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			})
		}, "", Reset},
		{"line too long", func(t *testing.T) string {
			return testutil.TCPServer(t, reply(strings.Repeat("x", MaxLine+1)+"\n"))
		}, "", Other},
		{"long line within limit", func(t *testing.T) string {
			return testutil.TCPServer(t, reply(strings.Repeat("x", MaxLine-1)+"\n"))
		}, "", OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Only the timeout case may time out; the others' timeout
			// only catches hangs, so that a stalled machine cannot turn
			// their outcome into a timeout.
			timeout := 10 * time.Second
			if tt.want == Timeout {
				timeout = 100 * time.Millisecond
			}
			cfg := Config{Addr: tt.addr(t), Concurrency: 2, Count: 6, Timeout: timeout, ExpectLine: tt.expect}
			r, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkCounts(t, r)
			if r.Polls != 6 {
				t.Fatalf("polls %d, want 6", r.Polls)
			}
			n := r.OK
			if tt.want != OK {
				n = r.Errors[tt.want]
			}
			if n != 6 {
				t.Fatalf("%s: %d of 6; ok %d errors %v examples %v", tt.want, n, r.OK, r.Errors, r.Examples)
			}
			if tt.want != OK && r.Examples[tt.want] == "" {
				t.Errorf("no example message for %s", tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{
		{},
		{Addr: "x:1", Count: 1},
		{Addr: "x:1", Concurrency: 1, Rate: 10, Count: 1},
		{Addr: "x:1", Concurrency: 1},
		{Addr: "x:1", Rate: -1, Count: 1},
		{Addr: "x:1", Concurrency: 1, Count: 1, Workers: maxWorkers + 1},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("Run(%+v): no error", c)
		}
	}
}

func TestSocat(t *testing.T) {
	srv, err := StartSocat("up ready 100% #it's socat")
	if errors.Is(err, ErrNoSocat) && os.Getenv("AGENT_REQUIRE_SERVERS") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	r, err := Run(context.Background(), Config{
		Addr: srv.Addr, Concurrency: 2, Count: 30, Timeout: 3 * time.Second,
		ExpectLine: "up ready 100% #it's socat", ServerCPU: srv.CPU,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.OK != 30 {
		t.Fatalf("ok %d of %d: %v", r.OK, r.Polls, r.Examples)
	}
	if !r.ServerCPUKnown {
		t.Error("socat CPU unknown")
	}
	if err := srv.Stop(); err != nil {
		t.Error(err)
	}
	// Stopped means stopped: nothing answers any more.
	r, err = Run(context.Background(), Config{Addr: srv.Addr, Concurrency: 1, Count: 1})
	if err != nil || r.Errors[Refused] != 1 {
		t.Fatalf("after Stop: %v %v", err, r.Errors)
	}
}

func TestReports(t *testing.T) {
	base := Report{Name: "baseline", Mode: "closed", Concurrency: 4, Polls: 100, OK: 100, Throughput: 1000,
		Latency: Latency{P99: 2 * time.Millisecond}, Errors: map[Kind]int64{}, ServerCPU: 100 * time.Millisecond, ServerCPUKnown: true}
	agent := Report{Name: "agent", Mode: "closed", Concurrency: 4, Polls: 52, OK: 50, Throughput: 900,
		Latency: Latency{P99: 3 * time.Millisecond}, Errors: map[Kind]int64{Timeout: 2},
		Examples: map[Kind]string{Timeout: "i/o timeout"}, ServerCPU: 100 * time.Millisecond, ServerCPUKnown: true}
	q := Compare(&agent, &base)
	if q.Throughput != 0.9 || q.P99 != 1.5 || q.CPUPerPoll != 2 {
		t.Errorf("ratios %+v", q)
	}
	reports := []Report{base, agent}
	var b bytes.Buffer
	if err := WriteText(&b, reports, &reports[0]); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"agent errors: timeout=2", "first timeout: i/o timeout", "agent / baseline: throughput 0.90  p99 1.50  server cpu/poll 2.00"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := WriteJSON(&b, reports, &reports[0]); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Reports []struct {
			Name   string
			Polls  int64
			Errors map[string]int64
		}
		Ratios []struct {
			Name            string
			Throughput, P99 float64
		}
	}
	if err := json.Unmarshal(b.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Reports) != 2 || out.Reports[1].Errors["timeout"] != 2 || len(out.Ratios) != 1 || out.Ratios[0].P99 != 1.5 {
		t.Errorf("json: %s", b.String())
	}
}
