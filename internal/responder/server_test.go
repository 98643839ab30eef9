package responder

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/haproxy-agent/agent/internal/testutil"
)

func TestNoServicesRepliesWithoutReading(t *testing.T) {
	// A read would wait 10s; the client gives up after 10s, so only a
	// reply sent without reading passes.
	h := start(t, Options{ReadTimeout: time.Minute})
	h.srv.Publish(NewTable([]byte(defaultLine), nil))
	c := h.dial()
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if got := readAll(t, c); got != defaultLine {
		t.Fatalf("reply %q, want %q", got, defaultLine)
	}
	if got := h.count(DefaultService, outcomeOK); got != 1 {
		t.Errorf("ok polls of default: %v, want 1", got)
	}
}

func TestNotReadyClosesWithoutReply(t *testing.T) {
	h := start(t, Options{})
	if got := h.poll("", false); got != "" {
		t.Fatalf("reply before any Publish: %q, want none", got)
	}
	if got := h.count("", outcomeNotReady); got != 1 {
		t.Errorf("not_ready polls: %v, want 1", got)
	}
	h.srv.Publish(NewTable([]byte(defaultLine), nil))
	if got := h.poll("", false); got != defaultLine {
		t.Fatalf("reply %q, want %q", got, defaultLine)
	}
	h.srv.Publish(nil)
	if got := h.poll("", false); got != "" {
		t.Fatalf("reply after Publish(nil): %q, want none", got)
	}
}

func TestServiceSelection(t *testing.T) {
	// The deadline cases wait it out; a second, so that a client late to
	// write its line on a loaded machine is not taken for a silent one.
	h := start(t, Options{ReadTimeout: time.Second})
	h.srv.Publish(servicesTable())
	for _, tc := range []struct {
		name      string
		send      string
		halfClose bool
		want      string
		service   string
		outcome   string
	}{
		{"agent-send picks service", "worker\n", false, workerLine, "worker", outcomeOK},
		{"CRLF", "api\r\n", false, apiLine, "api", outcomeOK},
		{"spaces trimmed", " \tworker \r\n", false, workerLine, "worker", outcomeOK},
		{"default by name", "default\n", false, defaultLine, DefaultService, outcomeOK},
		{"empty line", "\n", false, defaultLine, DefaultService, outcomeOK},
		{"no line, deadline", "", false, defaultLine, DefaultService, outcomeOK},
		{"no line, half-closed", "", true, defaultLine, DefaultService, outcomeOK},
		{"name without newline, half-closed", "worker", true, workerLine, "worker", outcomeOK},
		{"name without newline, deadline", "api", false, apiLine, "api", outcomeOK},
		{"unknown service", "nope\n", false, "\n", "", outcomeUnknownService},
		{"case matters", "Worker\n", false, "\n", "", outcomeUnknownService},
		{"oversize line", strings.Repeat("a", 300), false, "", "", outcomeBadRequest},
		{"oversize line, half-closed", strings.Repeat("a", maxRequestLine), true, "", "", outcomeBadRequest},
		{"binary garbage", "\x00\x01\xfe\xff\x16\x03\x01\n", false, "", "", outcomeBadRequest},
		{"longest line accepted", strings.Repeat("b", maxRequestLine-1) + "\n", false, "\n", "", outcomeUnknownService},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.count(tc.service, tc.outcome)
			if got := h.poll(tc.send, tc.halfClose); got != tc.want {
				t.Errorf("reply %q, want %q", got, tc.want)
			}
			if got := h.count(tc.service, tc.outcome) - before; got != 1 {
				t.Errorf("polls{service=%q,outcome=%q} grew by %v, want 1", tc.service, tc.outcome, got)
			}
		})
	}
}

func TestUnknownServiceLoggedOnce(t *testing.T) {
	var logs testutil.SyncBuffer
	h := start(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	h.srv.Publish(servicesTable())
	for _, name := range []string{"nope", "nope", "other", "nope", "other"} {
		if got := h.poll(name+"\n", false); got != "\n" {
			t.Fatalf("reply to %q: %q, want an empty line", name, got)
		}
	}
	if got := h.count("", outcomeUnknownService); got != 5 {
		t.Errorf("unknown_service polls: %v, want 5", got)
	}
	out := logs.String()
	for _, name := range []string{"nope", "other"} {
		if n := strings.Count(out, "service="+name+" "); n != 1 {
			t.Errorf("%q logged %d times, want once; logs:\n%s", name, n, out)
		}
	}
}

func TestNameSetIsBounded(t *testing.T) {
	var n nameSet
	counts := map[addResult]int{}
	for i := range 3 * maxLoggedNames {
		counts[n.add(fmt.Appendf(nil, "svc%d", i%(2*maxLoggedNames)))]++
	}
	if counts[addedFirst] != maxLoggedNames || counts[addedFull] != 1 {
		t.Errorf("first: %d (want %d), full: %d (want 1)", counts[addedFirst], maxLoggedNames, counts[addedFull])
	}
	if len(n.seen) != maxLoggedNames {
		t.Errorf("remembered %d names, want %d", len(n.seen), maxLoggedNames)
	}
}

func TestPublishSwapsAtomically(t *testing.T) {
	h := start(t, Options{})
	const versions = 50
	tables := make([]*Table, versions)
	valid := map[string]map[string]bool{DefaultService: {}, "worker": {}}
	for v := range versions {
		def := fmt.Sprintf("up ready %d%% #version %d", v+1, v)
		worker := fmt.Sprintf("up drain %d%% #worker version %d", v+1, v)
		tables[v] = NewTable([]byte(def), map[string][]byte{"worker": []byte(worker)})
		valid[DefaultService][def+"\n"] = true
		valid["worker"][worker+"\n"] = true
	}
	h.srv.Publish(tables[0])

	stop := make(chan struct{})
	var publisher sync.WaitGroup
	publisher.Go(func() {
		for v := 0; ; v++ {
			select {
			case <-stop:
				return
			default:
			}
			h.srv.Publish(tables[v%versions])
			time.Sleep(50 * time.Microsecond)
		}
	})

	var clients sync.WaitGroup
	errs := make(chan string, 8)
	for i := range 4 {
		clients.Go(func() {
			for j := range 100 {
				service := []string{DefaultService, "worker"}[(i+j)%2]
				c, err := net.DialTimeout("tcp", h.addr, 2*time.Second)
				if err != nil {
					errs <- err.Error()
					return
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_, _ = io.WriteString(c, service+"\n")
				b, err := io.ReadAll(c)
				c.Close()
				if err != nil || !valid[service][string(b)] {
					errs <- fmt.Sprintf("poll for %s: reply %q, err %v: not a published line", service, b, err)
					return
				}
			}
		})
	}
	clients.Wait()
	close(stop)
	publisher.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestMaxConnections(t *testing.T) {
	h := start(t, Options{MaxConnections: 2, ReadTimeout: 5 * time.Second, ShutdownTimeout: 100 * time.Millisecond})
	h.srv.Publish(servicesTable())
	held := []net.Conn{h.dial(), h.dial()}
	h.waitOpen(2)

	third := h.dial()
	defer third.Close()
	if got := readAll(t, third); got != "" {
		t.Errorf("connection past the cap got %q, want a close without reply", got)
	}
	if got := value(h.srv.m.rejectedLimit); got != 1 {
		t.Errorf("rejected{reason=limit}: %v, want 1", got)
	}

	// The held polls are still served.
	for _, c := range held {
		_, _ = io.WriteString(c, "worker\n")
		if got := readAll(t, c); got != workerLine {
			t.Errorf("held poll got %q, want %q", got, workerLine)
		}
		c.Close()
	}
	h.waitOpen(0)
	if got := h.poll("api\n", false); got != apiLine {
		t.Errorf("poll under the cap again got %q, want %q", got, apiLine)
	}
}

func TestAllowList(t *testing.T) {
	for _, tc := range []struct {
		allow string
		want  string
	}{
		{"10.0.0.0/8", ""},
		{"127.0.0.1/32", defaultLine},
		{"::ffff:127.0.0.0/104", defaultLine},
	} {
		t.Run(tc.allow, func(t *testing.T) {
			h := start(t, Options{Allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix(tc.allow)}})
			h.srv.Publish(NewTable([]byte(defaultLine), nil))
			if got := h.poll("", false); got != tc.want {
				t.Errorf("reply %q, want %q", got, tc.want)
			}
			wantRejected := 0.0
			if tc.want == "" {
				wantRejected = 1
			}
			if got := value(h.srv.m.rejectedNotAllowed); got != wantRejected {
				t.Errorf("rejected{reason=not_allowed}: %v, want %v", got, wantRejected)
			}
		})
	}
}

func TestAllowedAddresses(t *testing.T) {
	s := New(Options{Allow: []netip.Prefix{
		netip.MustParsePrefix("10.1.0.0/16"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("::ffff:192.168.1.0/120"),
	}})
	for _, tc := range []struct {
		addr net.Addr
		want bool
	}{
		{&net.TCPAddr{IP: net.ParseIP("10.1.2.3")}, true},
		{&net.TCPAddr{IP: net.ParseIP("10.1.2.3").To4()}, true},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3")}, true}, // IPv4 client of a dual-stack listener
		{&net.TCPAddr{IP: net.ParseIP("10.2.0.1")}, false},
		{&net.TCPAddr{IP: net.ParseIP("192.168.1.7")}, true},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1")}, true},
		{&net.TCPAddr{IP: net.ParseIP("2001:db9::1")}, false},
		{&net.UnixAddr{Name: "/tmp/x", Net: "unix"}, false},
	} {
		if got := s.allowed(tc.addr); got != tc.want {
			t.Errorf("allowed(%v) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	if !New(Options{}).allowed(&net.UnixAddr{Name: "/tmp/x", Net: "unix"}) {
		t.Error("an empty allow list must allow everyone")
	}
}

func TestGracefulShutdownAnswersInFlightPoll(t *testing.T) {
	// Deadlines far beyond the test's own steps, so that a stalled machine
	// cannot make the in-flight poll miss them.
	h := start(t, Options{ReadTimeout: time.Minute, ShutdownTimeout: 30 * time.Second})
	h.srv.Publish(servicesTable())
	c := h.dial()
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	h.waitOpen(1)

	stopped := make(chan error, 1)
	go func() { stopped <- h.stop() }()
	// Wait until the listener is closed: new connections are refused.
	deadline := time.Now().Add(20 * time.Second)
	for {
		d, err := net.DialTimeout("tcp", h.addr, time.Second)
		if err != nil {
			break
		}
		d.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after cancellation")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) with a poll in flight", err)
	default:
	}

	_, _ = io.WriteString(c, "worker\n")
	if got := readAll(t, c); got != workerLine {
		t.Errorf("in-flight poll got %q, want %q", got, workerLine)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve returned %v, want nil", err)
	}
}

func TestShutdownTimeoutClosesStuckPolls(t *testing.T) {
	h := start(t, Options{ReadTimeout: time.Minute, ShutdownTimeout: 100 * time.Millisecond})
	h.srv.Publish(servicesTable())
	c := h.dial()
	defer c.Close()
	h.waitOpen(1)
	if err := h.stop(); err != nil {
		t.Errorf("Serve returned %v, want nil", err)
	}
	if got := readAll(t, c); got != "" {
		t.Errorf("stuck poll got %q, want a close without reply", got)
	}
	if got := value(h.srv.m.open); got != 0 {
		t.Errorf("open connections after Serve returned: %v", got)
	}
}

func TestMetricsLint(t *testing.T) {
	h := start(t, Options{})
	h.srv.Publish(servicesTable())
	h.poll("worker\n", false)
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"haproxy_agent_polls_total":                     false,
		"haproxy_agent_poll_connections_rejected_total": false,
		"haproxy_agent_poll_connections_open":           false,
		"haproxy_agent_poll_duration_seconds":           false,
	}
	for _, mf := range mfs {
		want[mf.GetName()] = true
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("metric %s not exported", name)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestSharedRegistry(t *testing.T) {
	h := start(t, Options{})
	s2 := New(Options{Registerer: h.reg}) // must not panic
	s2.Publish(NewTable([]byte(defaultLine), nil))
	h.srv.Publish(NewTable([]byte(defaultLine), nil))
	h.poll("", false)
	if got := value(s2.m.polls.WithLabelValues(DefaultService, "", outcomeOK)); got != 1 {
		t.Errorf("second server sees %v polls in the shared registry, want 1", got)
	}
}
