package responder

import (
	"errors"
	"github.com/haproxy-agent/agent/internal/testutil"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSlowlorisDoesNotDelayPolls holds 200 slow connections (half silent,
// half dripping a byte every 20ms) plus garbage ones, and checks that a
// normal poll is answered while they are all still held, and that each slow
// one is answered or closed at its read deadline: a dripping client cannot
// extend it. No wall-clock figure is judged: a slow connection is released
// after the normal poll was answered, and dripping ones no later than
// silent ones (a server that extended the deadline per byte would hold
// them until the client gives up, 10 deadlines later).
func TestSlowlorisDoesNotDelayPolls(t *testing.T) {
	testutil.Long(t)
	const (
		readTimeout = 2 * time.Second
		slow        = 200
	)
	h := start(t, Options{ReadTimeout: readTimeout, ShutdownTimeout: time.Second})
	h.srv.Publish(servicesTable())

	type result struct {
		reply    string
		err      error
		dialed   time.Time
		released time.Time
		dripping bool
	}
	results := make([]result, slow)
	conns := make([]net.Conn, slow)
	for i := range conns {
		results[i].dialed = time.Now()
		results[i].dripping = i%2 == 1
		conns[i] = h.dial()
	}
	h.waitOpen(slow)

	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			defer c.Close()
			r := &results[i]
			var got []byte
			buf := make([]byte, 64)
			giveUp := time.Now().Add(10 * readTimeout)
			for time.Now().Before(giveUp) {
				if r.dripping {
					_ = c.SetWriteDeadline(time.Now().Add(time.Second))
					_, _ = c.Write([]byte{'x'})
				}
				// The short read doubles as the drip interval.
				_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
				n, err := c.Read(buf)
				got = append(got, buf[:n]...)
				if errors.Is(err, os.ErrDeadlineExceeded) {
					continue
				}
				r.released, r.reply, r.err = time.Now(), string(got), err
				if err == nil {
					_ = c.SetReadDeadline(time.Now().Add(time.Second))
					rest, err := io.ReadAll(c)
					r.reply += string(rest)
					r.err = err
				}
				// Bytes dripped after the server's last read make its
				// close a reset; the reply came before it.
				if errors.Is(r.err, syscall.ECONNRESET) {
					r.err = nil
				}
				return
			}
			r.err = errors.New("never answered nor closed")
		})
	}

	// Garbage and oversize requests among them, closed at once.
	for _, garbage := range []string{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", string(make([]byte, 1000))} {
		if got := h.poll(garbage, false); got != "" {
			t.Errorf("garbage %q got %q, want a close", garbage[:8], got)
		}
	}

	if got := h.poll("worker\n", false); got != workerLine {
		t.Errorf("normal poll among slow ones got %q, want %q", got, workerLine)
	}
	normalDone := time.Now()
	wg.Wait()

	for i, r := range results {
		if r.err != nil {
			t.Errorf("slow connection %d: %v", i, r.err)
			continue
		}
		if !r.released.After(normalDone) {
			t.Errorf("slow connection %d released at %v, before the normal poll finished at %v",
				i, r.released.Format(time.StampMicro), normalDone.Format(time.StampMicro))
		}
		want := defaultLine // silence: the default service
		if r.dripping {
			want = "\n" // "xxx…": an unknown service
		}
		if r.reply != want {
			t.Errorf("slow connection %d (dripping %v) got %q, want %q", i, r.dripping, r.reply, want)
		}
	}
	// The deadline counts from accept: dripping does not extend it.
	var held [2][]time.Duration // silent, dripping
	for _, r := range results {
		if r.err == nil {
			d := 0
			if r.dripping {
				d = 1
			}
			held[d] = append(held[d], r.released.Sub(r.dialed))
		}
	}
	if len(held[0]) > 0 && len(held[1]) > 0 {
		slices.Sort(held[0])
		slices.Sort(held[1])
		silent, dripping := held[0][len(held[0])/2], held[1][len(held[1])/2]
		t.Logf("median time held: silent %s, dripping %s (read deadline %s)", silent, dripping, readTimeout)
		if dripping > silent+readTimeout/2 {
			t.Errorf("dripping connections held %s at the median, silent ones %s: dripping extends the %s deadline", dripping, silent, readTimeout)
		}
	}
	if got := h.count("", outcomeBadRequest); got != 2 {
		t.Errorf("bad_request polls: %v, want 2", got)
	}
}

// TestHalfClosedAndResetClients checks clients that go away early.
func TestHalfClosedAndResetClients(t *testing.T) {
	h := start(t, Options{ReadTimeout: time.Second})
	h.srv.Publish(servicesTable())

	// Reset before sending anything: the server must not block nor crash.
	c := h.dial()
	_ = c.(*net.TCPConn).SetLinger(0)
	c.Close()
	h.waitOpen(0)

	// Half-closed after the line: the reply still arrives.
	if got := h.poll("api\n", true); got != apiLine {
		t.Errorf("half-closed poll got %q, want %q", got, apiLine)
	}
}
