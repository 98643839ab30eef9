package app

import (
	"bytes"
	"context"
	"net/http"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// leakSeq numbers the tests that call leakCheck.
var leakSeq atomic.Int64

// leakIgnored are the functions a goroutine left behind may be blocked in
// (its first frame) without counting as a leak: the idle keep-alive
// connections of the test's own HTTP client.
var leakIgnored = []string{
	"net/http.(*persistConn).readLoop",
	"net/http.(*persistConn).writeLoop",
}

// leakCheck registers, first, a cleanup that runs after every later one
// (the agent's stop, the exporters' Close) and fails t if a goroutine the
// test started, directly or through goroutines they started, is left.
//
// It tells the test's goroutines from those of tests running in parallel
// by a profiler label: leakCheck labels the test's goroutine, a goroutine
// inherits the labels of the one that starts it, and the goroutine profile
// lists goroutines with their labels. So it must be called before the test
// starts anything.
func leakCheck(t *testing.T) {
	t.Helper()
	id := strconv.FormatInt(leakSeq.Add(1), 10)
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("leakcheck", id)))
	t.Cleanup(func() {
		// Cleanups run on the test's goroutine: unlabel it first.
		pprof.SetGoroutineLabels(context.Background())
		http.DefaultClient.CloseIdleConnections()
		// Goroutines told to stop may take a moment to return.
		deadline := time.Now().Add(5 * time.Second)
		for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
			left := labelledGoroutines(`"leakcheck":"` + id + `"`)
			if len(left) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("found unexpected goroutines:\n%s", strings.Join(left, "\n"))
				return
			}
			time.Sleep(wait)
		}
	})
}

// labelledGoroutines returns the records of the goroutine profile (debug
// form: a count, the labels, one line per frame) whose labels include
// label, except those whose first frame is in leakIgnored.
func labelledGoroutines(label string) []string {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
	// The first line is the header: "goroutine profile: total N".
	_, records, _ := strings.Cut(buf.String(), "\n")
	var out []string
	for _, rec := range strings.Split(records, "\n\n") {
		lines := strings.Split(rec, "\n")
		if len(lines) < 3 || !strings.HasPrefix(lines[1], "# labels: ") || !strings.Contains(lines[1], label) {
			continue
		}
		// A frame: "#\t0xPC\tfunction+0xOFF\tfile:line".
		top := strings.Split(lines[2], "\t")
		if len(top) > 2 && ignoredFrame(top[2]) {
			continue
		}
		out = append(out, rec)
	}
	return out
}

func ignoredFrame(frame string) bool {
	fn, _, _ := strings.Cut(frame, "+0x")
	for _, f := range leakIgnored {
		if fn == f {
			return true
		}
	}
	return false
}

// TestLeakCheckFindsItsOwnGoroutines: a labelled goroutine, the
// goroutines it starts and those they start are found by its label; a
// goroutine started elsewhere at the same time is not.
func TestLeakCheckFindsItsOwnGoroutines(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	defer close(stop)
	started := make(chan struct{}, 4)
	block := func() { started <- struct{}{}; <-stop }
	go block() // unlabelled: another test's
	id := "self-test-" + strconv.FormatInt(leakSeq.Add(1), 10)
	go func() {
		pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("leakcheck", id)))
		go func() { go block(); block() }()
		block()
	}()
	for range 4 {
		<-started
	}
	// Three stacks, one goroutine each: the labelled one, its child and
	// its grandchild.
	label := `"leakcheck":"` + id + `"`
	if left := labelledGoroutines(label); len(left) != 3 {
		t.Fatalf("found %d goroutines labelled %s, want 3:\n%s", len(left), label, strings.Join(left, "\n"))
	}
	if left := labelledGoroutines(`"leakcheck":"other"`); len(left) != 0 {
		t.Fatalf("found goroutines of another label:\n%s", strings.Join(left, "\n"))
	}
}
