package responder

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestFleetAnswered: a poll answered with a server's line adds one to the
// counter published with it, and to no other: a server without a counter,
// an unknown name, and a line replaced (with a new counter) leave it be.
// Counting allocates nothing.
func TestFleetAnswered(t *testing.T) {
	s := New(Options{})
	first := new(atomic.Uint64)
	s.Publish(NewFleetTableAnswered(map[string][]byte{"web1": []byte("up drain 100%"), "web2": []byte("up")},
		map[string]*atomic.Uint64{"web1": first}))
	poll := func(name string) string {
		c := &memConn{in: []byte(name + "\n")}
		s.handle(c, time.Now())
		return string(c.out)
	}
	for _, name := range []string{"web1", "web1", "web2", "web9"} {
		poll(name)
	}
	if n := first.Load(); n != 2 {
		t.Errorf("web1's counter: %d, want 2", n)
	}
	second := new(atomic.Uint64)
	s.Publish(NewFleetTableAnswered(map[string][]byte{"web1": []byte("up ready 100%")}, map[string]*atomic.Uint64{"web1": second}))
	if got := poll("web1"); got != "up ready 100%\n" {
		t.Fatalf("web1: %q", got)
	}
	if a, b := first.Load(), second.Load(); a != 2 || b != 1 {
		t.Errorf("counters after the new line: old %d, new %d; want 2 and 1", a, b)
	}
	c := &memConn{in: []byte("web1\n"), out: make([]byte, 0, 64)}
	if allocs := testing.AllocsPerRun(100, func() { c.reset(); s.handle(c, time.Now()) }); allocs != 0 {
		t.Errorf("a counted poll allocates %v times, want 0", allocs)
	}
}
