package responder

import (
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

// TestRefusedClientLoggedOnce: a client outside --poll.allow is logged
// once, naming it and the allow list, however often it polls.
func TestRefusedClientLoggedOnce(t *testing.T) {
	var logs testutil.SyncBuffer
	h := start(t, Options{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.0/24")},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	h.srv.Publish(NewTable([]byte(defaultLine), nil))
	for range 20 {
		if got := h.poll("", false); got != "" {
			t.Fatalf("refused client got %q", got)
		}
	}
	for value(h.srv.m.rejectedNotAllowed) < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	want := regexp.MustCompile(`level=WARN msg="poll refused: client not in --poll.allow" client=127\.0\.0\.1 allow="10\.0\.0\.0/8 192\.0\.2\.0/24" refused=1\n`)
	if n := len(want.FindAllString(logs.String(), -1)); n != 1 || strings.Count(logs.String(), "poll refused") != 1 {
		t.Errorf("20 refused polls from one address logged %d times as wanted; log:\n%s", n, logs.String())
	}
}

// TestRefusedLogLimits: an address is logged again a minute later with
// the count since, and many addresses make at most refusedBurst lines a
// minute.
func TestRefusedLogLimits(t *testing.T) {
	var l refusedLog
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("198.51.100.7")
	logged := 0
	for i := range 120 { // one a second for two minutes
		if ok, n := l.refuse(a, t0.Add(time.Duration(i)*time.Second)); ok {
			logged++
			if want := []int{1, 60}[min(logged-1, 1)]; n != want {
				t.Errorf("line %d stands for %d refusals, want %d", logged, n, want)
			}
		}
	}
	if logged != 2 {
		t.Errorf("120 refusals over two minutes logged %d times, want 2", logged)
	}
	var m refusedLog
	lines := 0
	for i := range 1000 { // a scan: 1,000 addresses in a second
		if ok, _ := m.refuse(netip.MustParseAddr(fmt.Sprintf("203.0.%d.%d", i/256, i%256)), t0.Add(time.Duration(i)*time.Millisecond)); ok {
			lines++
		}
	}
	if lines != refusedBurst {
		t.Errorf("1,000 addresses in a second logged %d lines, want %d", lines, refusedBurst)
	}
}
