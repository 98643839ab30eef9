package app

import (
	"bytes"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/pollbench"
)

// The load tests judge the agent against a baseline measured in the same
// run, never against wall-clock figures: on a shared 2-core machine with
// the race detector, a poll's latency swings by two orders of magnitude
// from one second to the next, and only a comparison with the least code
// that does the same job, under the same load at the same moment, says
// whether the agent is at fault.

// baselineLine is the baseline's reply.
const baselineLine = "up ready 100%"

// quantile returns the q-quantile of ds (0 for none), sorting ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(q*float64(len(ds))))]
}

// startBaseline serves polls the least way that resists slow clients: a
// goroutine per connection, one read deadline from accept for the
// agent-send line, then a constant reply (baselineLine). It stops,
// connections included, when the test ends.
func startBaseline(t *testing.T, readTimeout time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetReadDeadline(time.Now().Add(readTimeout))
				buf := make([]byte, 256)
				n := 0
				for n < len(buf) {
					m, err := c.Read(buf[n:])
					if bytes.IndexByte(buf[n:n+m], '\n') >= 0 || err != nil {
						break
					}
					n += m
				}
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = c.Write([]byte(baselineLine + "\n"))
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// abba reports whether segment i of an ABBA ABBA... sequence is an A
// segment, so that the drift of a shared machine falls on both sides
// alike.
func abba(i int) bool { return i%4 == 0 || i%4 == 3 }

// segmentLatency is the median over segments of one latency quantile: a
// segment hit by a stall of the whole machine does not decide.
func segmentLatency(segs []pollbench.Latency, q func(pollbench.Latency) time.Duration) time.Duration {
	ds := make([]time.Duration, len(segs))
	for i, l := range segs {
		ds[i] = q(l)
	}
	return quantile(ds, 0.5)
}

// notSlowerThanBaseline fails t when the agent's polls, measured in
// segments alternating with the baseline's, are slower than the baseline's
// at the median (by more than 3x + 2 ms) or at the 90th percentile (5x +
// 5 ms), each quantile a median over segments. The slack absorbs
// sub-millisecond noise, and the wider bound of the tail the queueing of a
// saturated machine, which grows faster than the work per poll; an agent
// 10 times slower than the baseline fails at the median, and one whose
// polls wait for something (an evaluation, a reload, a slow connection)
// by tens of milliseconds fails at the tail.
func notSlowerThanBaseline(t *testing.T, what string, agent, base []pollbench.Latency) {
	t.Helper()
	for _, q := range []struct {
		name   string
		get    func(pollbench.Latency) time.Duration
		factor float64
		slack  time.Duration
	}{
		{"p50", func(l pollbench.Latency) time.Duration { return l.P50 }, 3, 2 * time.Millisecond},
		{"p90", func(l pollbench.Latency) time.Duration { return l.P90 }, 5, 5 * time.Millisecond},
	} {
		a, b := segmentLatency(agent, q.get), segmentLatency(base, q.get)
		t.Logf("%s: %s latency, median of %d segments each: agent %s, baseline %s", what, q.name, len(agent), a, b)
		if float64(a) > q.factor*float64(b)+float64(q.slack) {
			t.Errorf("%s: %s latency: agent %s, baseline %s in the same run; want at most %gx + %s", what, q.name, a, b, q.factor, q.slack)
		}
	}
}
