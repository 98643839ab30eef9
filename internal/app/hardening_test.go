package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

// The storm and soak rule sets. Every rule fires whatever the data
// (on_missing: fire, and cpus is never negative), so that each set has
// fixed replies that differ from the other set's in every field: a reply
// mixing the two sets, or cut short, matches neither.
const (
	stormA = `interval: 100ms
metrics:
  cpus: host:cpus
rules:
  - name: set_a
    when: cpus >= 0
    then: drain, weight 61%
    on_missing: fire
services:
  worker:
    rules:
      - name: set_a_worker
        when: cpus >= 0
        then: weight 23%
        on_missing: fire
`
	stormB = `interval: 100ms
metrics:
  cpus: host:cpus
rules:
  - name: set_b
    when: cpus >= 0
    then: maint, weight 42%
    on_missing: fire
services:
  worker:
    rules:
      - name: set_b_worker
        when: cpus >= 0
        then: down, weight 7%
        on_missing: fire
`
)

// The replies of stormA and stormB, per service.
var (
	stormReplies = map[string][2]string{
		"":       {"up drain 61% #set_a", "up maint 42% #set_b"},
		"worker": {"up ready 23% #set_a_worker", "down ready 7% #set_b_worker"},
	}
	// badRuleFiles are invalid edits: each must leave the rules serving.
	badRuleFiles = []string{
		"",
		"rules: [\n",
		stormA[:len(stormA)/2],
		"metrics:\n  cpus: host:cpus\nrules:\n  - cpux > 1 => drain\n",
		"\x00\xff garbage \xfe",
		strings.Replace(stormB, "interval: 100ms", "interval: -1s", 1),
	}
)

// poll is testutil.PollLine returning the line without its terminator.
func poll(addr, send string, timeout time.Duration) (string, error) {
	line, err := testutil.PollLine(addr, send, timeout)
	return strings.TrimSuffix(line, "\n"), err
}

// setOf says which rule set a reply of service belongs to: 0 (A), 1 (B),
// or -1 (neither: torn, mixed or empty).
func setOf(service, reply string) int {
	for i, r := range stormReplies[service] {
		if reply == r {
			return i
		}
	}
	return -1
}

// writeInPlace rewrites path the way `echo > file` does: truncate, then
// write, so that a reader may see it empty or half written.
func writeInPlace(t *testing.T, path, content string) {
	t.Helper()
	if err := rewriteFile(path, content); err != nil {
		t.Fatal(err)
	}
}

// rewriteFile is writeInPlace for goroutines other than the test's, which
// must not call t.Fatal.
func rewriteFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	// Two writes, so that a reader can catch the file half written.
	half := len(content) / 2
	_, err = f.WriteString(content[:half])
	if err == nil {
		_, err = f.WriteString(content[half:])
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// metricSum sums the samples of the named metric whose labels contain every
// one of match (e.g. `outcome="ok"`), from a /metrics page.
func metricSum(page, name string, match ...string) float64 {
	sum := 0.0
	for _, line := range strings.Split(page, "\n") {
		if !strings.HasPrefix(line, name) || len(line) == len(name) || (line[len(name)] != '{' && line[len(name)] != ' ') {
			continue
		}
		ok := true
		for _, m := range match {
			ok = ok && strings.Contains(line, m)
		}
		if !ok {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// quietLogger keeps the agent's logs out of long tests' output while
// still exercising the logging code.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestReloadStorm rewrites the rule file 100 times a second for 10 s, by
// atomic rename and by in-place truncate-and-write, alternating two valid
// rule sets and invalid content, while reloads also come by SIGHUP and
// POST /-/reload, and pollers poll back to back. Every reply must be a
// whole line of exactly one rule set, no poll may fail, and at the end the
// agent must converge on the valid file the storm ends with.
func TestReloadStorm(t *testing.T) {
	testutil.Long(t)
	leakCheck(t)
	storm := 10 * time.Second
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeAtomic(t, path, stormA)
	sighup := make(chan struct{})
	// Every poll sends its line; the read deadline only has to outlast a
	// poller descheduled between connect and write on a loaded machine,
	// where 100 ms is not enough and the late line's poll would get the
	// default service's reply.
	ag := startAgent(t, Options{RulesPath: path, Reload: sighup, EnableLifecycle: true, PollReadTimeout: 5 * time.Second, Logger: quietLogger()})

	if r, err := poll(ag.poll, "\n", 10*time.Second); err != nil || setOf("", r) != 0 {
		t.Fatalf("first poll: %q, %v; want %q", r, err, stormReplies[""][0])
	}

	ctx, cancel := context.WithTimeout(context.Background(), storm)
	defer cancel()
	var (
		polls, failed, torn atomic.Int64
		switches            atomic.Int64
		firstBad            atomic.Pointer[string]
		wg                  sync.WaitGroup
	)
	bad := func(msg string) {
		firstBad.CompareAndSwap(nil, &msg)
	}
	for i := range 4 {
		service, send := "", "\n"
		if i%2 == 1 {
			service, send = "worker", "worker\n"
		}
		wg.Go(func() {
			last := -1
			for ctx.Err() == nil {
				// A timeout that catches hangs, not a slow machine.
				r, err := poll(ag.poll, send, 10*time.Second)
				polls.Add(1)
				if err != nil {
					failed.Add(1)
					bad(fmt.Sprintf("poll %q failed: %v", send, err))
					continue
				}
				set := setOf(service, r)
				if set < 0 {
					torn.Add(1)
					bad(fmt.Sprintf("service %q got %q: not a whole reply of either rule set", service, r))
					continue
				}
				if last >= 0 && set != last {
					switches.Add(1)
				}
				last = set
			}
		})
	}
	// Reloads that do not come from the watcher land at any moment,
	// including on a file that is empty or half written.
	wg.Go(func() {
		tick := time.NewTicker(30 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if n%2 == 0 {
				select {
				case sighup <- struct{}{}:
				case <-ctx.Done():
					return
				}
				continue
			}
			resp, err := http.Post("http://"+ag.web+"/-/reload", "", nil)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	})

	writes, lastValid := 0, stormA
	tick := time.NewTicker(10 * time.Millisecond)
	for ctx.Err() == nil {
		<-tick.C
		var content string
		switch writes % 4 {
		case 0:
			content = stormB
		case 2:
			content = stormA
		default:
			content = badRuleFiles[(writes/2)%len(badRuleFiles)]
		}
		if content == stormA || content == stormB {
			lastValid = content
		}
		// The write method alternates every 4 writes, so that both sets
		// and the bad files are written both ways.
		if (writes/4)%2 == 0 {
			writeAtomic(t, path, content)
		} else {
			writeInPlace(t, path, content)
		}
		writes++
	}
	tick.Stop()
	wg.Wait()

	// A valid file replaced within the debounce window may never have
	// been read, so the storm ends on a valid write: the agent must then
	// converge on it, whatever it was serving.
	writeAtomic(t, path, lastValid)
	want := 0
	if lastValid == stormB {
		want = 1
	}
	// The deadline only catches an agent that never converges.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := poll(ag.poll, "worker\n", 10*time.Second)
		if err == nil && setOf("worker", r) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the storm: %q, %v; want the last valid file's %q", r, err, stormReplies["worker"][want])
		}
		time.Sleep(20 * time.Millisecond)
	}

	m := ag.get(t, "/metrics")
	t.Logf("reload storm: %s, %d file writes (%d valid), %d polls, %d failed, %d torn or mixed, %d switches between sets seen by pollers",
		storm, writes, (writes+1)/2, polls.Load(), failed.Load(), torn.Load(), switches.Load())
	t.Logf("agent counters: polls ok %v, evaluations %v", metricSum(m, "haproxy_agent_polls_total", `outcome="ok"`), metricSum(m, "haproxy_agent_evaluations_total"))
	if p := firstBad.Load(); p != nil {
		t.Errorf("first bad poll: %s", *p)
	}
	if failed.Load() != 0 || torn.Load() != 0 {
		t.Errorf("%d failed and %d torn or mixed polls out of %d", failed.Load(), torn.Load(), polls.Load())
	}
	if switches.Load() < 2 {
		t.Errorf("pollers saw only %d switches between the rule sets: the storm did not reload", switches.Load())
	}
	if polls.Load() < 100 {
		t.Errorf("only %d polls in %s", polls.Load(), storm)
	}
}

// holdFD raises the soft open-file limit to at least n if the hard limit
// allows, and skips the test otherwise.
func holdFD(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		t.Skipf("open-file limit %d (hard %d) is below the %d this test needs", lim.Cur, lim.Max, n)
	}
	old := lim
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("cannot raise the open-file limit: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// TestSlowlorisThousand holds 1,000 connections to the agent that send
// nothing or drip a byte at a time, reopening each as soon as it is closed,
// while normal polls go on. The same load runs, at the same time, against a
// baseline: the least code that resists it (a goroutine per connection, the
// same read deadline). On a shared 2-core machine no wall-clock figure
// holds, so the agent is judged against that baseline, poll for poll, and
// by exact counts: every normal poll is answered, the agent closes slow
// connections as soon as the baseline does, and counts every connection.
func TestSlowlorisThousand(t *testing.T) {
	testutil.Long(t)
	leakCheck(t)
	holdFD(t, 8192)
	const slow = 1000 // per target
	const readTimeout = 100 * time.Millisecond
	hold := 3 * time.Second
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeAtomic(t, path, stormA)
	ag := startAgent(t, Options{RulesPath: path, MaxConnections: 2 * slow, PollReadTimeout: readTimeout, Logger: quietLogger()})
	base := startBaseline(t, readTimeout)
	before := ag.get(t, "/metrics")

	ctx, cancel := context.WithTimeout(context.Background(), hold)
	defer cancel()
	targets := []*slowTarget{{name: "agent", addr: ag.poll}, {name: "baseline", addr: base}}
	var wg sync.WaitGroup
	for _, tg := range targets {
		for i := range slow {
			wg.Go(func() { tg.slowClient(ctx, i%2 == 1) })
		}
	}
	// Normal polls, alternating between the agent and the baseline so
	// that both see the same moment of the machine's load. They go on
	// past the hold until each poller has made 50 pairs.
	// The order within a pair alternates (ABBA), so that neither target
	// always polls right after the other.
	const pairs = 100
	for _, send := range []string{"\n", "worker\n"} {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil || n < pairs; n++ {
				for i := range targets {
					if n%2 == 1 {
						i = len(targets) - 1 - i
					}
					targets[i].normalPoll(send)
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	wg.Wait()

	agent, baseline := targets[0], targets[1]
	for _, tg := range targets {
		t.Logf("%s: %d slow connections opened (%d dial errors, %d turned away at once), %d closed by the server, lifetime median %s p90 %s; "+
			"normal polls: %d, %d failed, latency median %s p90 %s max %s",
			tg.name, tg.slowConns.Load(), tg.dialErrors.Load(), tg.turnedAway.Load(), len(tg.lifetimes), quantile(tg.lifetimes, 0.5), quantile(tg.lifetimes, 0.9),
			len(tg.latencies), tg.failed.Load(), quantile(tg.latencies, 0.5), quantile(tg.latencies, 0.9), quantile(tg.latencies, 1))
	}
	if n := agent.failed.Load(); n != 0 {
		t.Errorf("%d of %d normal polls to the agent failed; first: %s", n, len(agent.latencies), agent.firstFail)
	}
	if n := baseline.failed.Load(); n != 0 {
		t.Logf("%d normal polls to the baseline failed; first: %s", n, baseline.firstFail)
	}
	// Normal polls are not held up behind slow connections more than the
	// baseline's are: at the median by more than 3x + 2 ms (an agent 10
	// times slower fails), at q75 by more than 5x + a quarter of the read
	// deadline (an agent that made polls wait for slow connections would be
	// late by read deadlines). Not the tail: the whole test process stalls
	// now and then on a loaded machine, and a stall lands on whichever
	// target is being polled.
	slack := readTimeout / 4
	for _, q := range []struct {
		q, factor float64
		slack     time.Duration
	}{{0.5, 3, 2 * time.Millisecond}, {0.75, 5, slack}} {
		a, b := quantile(agent.latencies, q.q), quantile(baseline.latencies, q.q)
		t.Logf("normal poll latency at q%.0f: agent %s, baseline %s", q.q*100, a, b)
		if float64(a) > q.factor*float64(b)+float64(q.slack) {
			t.Errorf("normal poll latency at q%.0f: agent %s, baseline %s in the same run; want at most %gx + %s", q.q*100, a, b, q.factor, q.slack)
		}
	}
	// Slow connections are closed by the read deadline, as the baseline
	// closes them: not much later (on a saturated machine both live ten
	// deadlines and more, and the agent, which has more to do, up to
	// twice the baseline's), and as many (an agent that let dripping
	// extend the deadline would close almost none).
	if a, b := quantile(agent.lifetimes, 0.5), quantile(baseline.lifetimes, 0.5); a > 5*b+slack {
		t.Errorf("median slow connection lifetime: agent %s, baseline %s; want at most 5x + %s", a, b, slack)
	}
	if a, b := len(agent.lifetimes), len(baseline.lifetimes); 3*a < b {
		t.Errorf("slow connections closed by the server: agent %d, baseline %d", a, b)
	}

	// Every connection the agent was sent ends as one counted poll (slow
	// ones by their read deadline: a partial name, or silence), or as a
	// rejected one: wait until all are accounted for.
	dialed := float64(agent.slowConns.Load()) + float64(len(agent.latencies)) + float64(agent.failed.Load())
	counted := func() (float64, float64) {
		after := ag.get(t, "/metrics")
		polls := metricSum(after, "haproxy_agent_polls_total") - metricSum(before, "haproxy_agent_polls_total")
		rejected := metricSum(after, "haproxy_agent_poll_connections_rejected_total") - metricSum(before, "haproxy_agent_poll_connections_rejected_total")
		return polls, rejected
	}
	deadline := time.Now().Add(30 * time.Second) // only catches a count that never comes
	polls, rejected := counted()
	for polls+rejected < dialed && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		polls, rejected = counted()
	}
	t.Logf("agent counted %v polls and %v rejected connections for %v dialed", polls, rejected, dialed)
	if polls+rejected != dialed {
		t.Errorf("the agent counted %v polls + %v rejected for %v connections", polls, rejected, dialed)
	}
}

// slowTarget is one server of TestSlowlorisThousand and what its clients
// saw.
type slowTarget struct {
	name, addr            string
	slowConns, dialErrors atomic.Int64
	// turnedAway counts slow connections ended at once, before a read
	// deadline could pass: past the cap, or reset by a listen queue
	// that overflowed on a starved machine. They are not lifetimes.
	turnedAway atomic.Int64
	failed     atomic.Int64

	mu        sync.Mutex
	lifetimes []time.Duration // of slow connections the server closed
	latencies []time.Duration // of normal polls answered
	firstFail string
}

// slowClient opens connections to tg that send nothing or drip a byte at a
// time, never a newline, each until the server closes it, until ctx ends.
func (tg *slowTarget) slowClient(ctx context.Context, drip bool) {
	buf := make([]byte, 64)
	for ctx.Err() == nil {
		c, err := net.DialTimeout("tcp", tg.addr, 5*time.Second)
		if err != nil {
			tg.dialErrors.Add(1)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		tg.slowConns.Add(1)
		opened := time.Now()
		closed, atOnce := false, false
		if drip {
			// "w", "o", "r"...: a service name that never ends, a
			// byte every 40ms, well within the 100ms read deadline.
			for i := 0; ctx.Err() == nil; i++ {
				if _, err := c.Write([]byte{"worker"[i%6]}); err != nil {
					closed, atOnce = true, i == 0
					break
				}
				_ = c.SetReadDeadline(time.Now().Add(40 * time.Millisecond))
				if _, err := c.Read(buf); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
					// A reply or a close; at the first byte, before
					// the read deadline, a turning away.
					closed, atOnce = true, i == 0
					break
				}
			}
		} else {
			// Silence: wait for the server's reply or close, or the
			// end of the hold. At the read deadline the server
			// replies; a reset is a turning away.
			stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Now()) })
			_, err := c.Read(buf)
			stop()
			closed = err == nil || !errors.Is(err, os.ErrDeadlineExceeded)
			atOnce = errors.Is(err, syscall.ECONNRESET)
		}
		if atOnce {
			tg.turnedAway.Add(1)
		} else if closed {
			d := time.Since(opened)
			tg.mu.Lock()
			tg.lifetimes = append(tg.lifetimes, d)
			tg.mu.Unlock()
		}
		c.Close()
	}
}

// normalPoll polls tg as HAProxy would, with a timeout that only catches
// hangs, and records the latency.
func (tg *slowTarget) normalPoll(send string) {
	start := time.Now()
	_, err := poll(tg.addr, send, 10*time.Second)
	d := time.Since(start)
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if err != nil {
		if tg.failed.Add(1) == 1 {
			tg.firstFail = err.Error()
		}
		return
	}
	tg.latencies = append(tg.latencies, d)
}

// TestHostilePolls sends what is not a poll: oversized agent-send lines,
// binary garbage, half-closed and reset connections, and connections past
// the cap. Each is answered or closed within the read deadline and counted.
//
// "Within the read deadline" is judged against a baseline that answers
// after one read deadline from accept, sent the same bytes in the same run:
// each case three times on each, the fastest of the three compared, so
// that a stall of the machine during one attempt does not decide while an
// agent that held a connection longer than it should would be late every
// time.
func TestHostilePolls(t *testing.T) {
	testutil.Long(t)
	leakCheck(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeAtomic(t, path, stormA)
	const readTimeout = 200 * time.Millisecond
	ag := startAgent(t, Options{RulesPath: path, PollReadTimeout: readTimeout, Logger: quietLogger()})
	base := startBaseline(t, readTimeout)

	// closeTime sends data to addr (then half-closes if asked) and returns
	// what came back before the server closed, and when it closed. Its
	// deadline only catches hangs.
	closeTime := func(t *testing.T, addr string, data []byte, halfClose bool) (string, time.Duration) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		_ = c.SetDeadline(start.Add(30 * time.Second))
		go func() {
			// Writes past what the server reads may be reset: ignore.
			_, _ = c.Write(data)
			if halfClose {
				_ = c.(*net.TCPConn).CloseWrite()
			}
		}()
		got, err := io.ReadAll(c)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s never closed the connection", addr)
		}
		return string(got), time.Since(start)
	}
	const attempts = 3
	// closedWithin sends data to the agent and to the baseline in turn,
	// attempts times each, checks every reply of the agent, and compares
	// the fastest close of each.
	closedWithin := func(t *testing.T, data []byte, halfClose bool, reply string) {
		t.Helper()
		fastest := [2]time.Duration{time.Hour, time.Hour}
		for i := range 2 * attempts {
			side := i % 2
			if (i/2)%2 == 1 {
				side = 1 - side // ABBA
			}
			if side == 0 {
				got, d := closeTime(t, ag.poll, data, halfClose)
				if got != reply {
					t.Errorf("got %q; want %q", got, reply)
				}
				fastest[0] = min(fastest[0], d)
			} else {
				_, d := closeTime(t, base, data, halfClose)
				fastest[1] = min(fastest[1], d)
			}
		}
		t.Logf("closed after %s (fastest of %d); the baseline after %s", fastest[0], attempts, fastest[1])
		if fastest[0] > 2*fastest[1]+readTimeout/2 {
			t.Errorf("closed after %s at the fastest of %d; the baseline, with the same %s read deadline, after %s; want at most 2x + %s",
				fastest[0], attempts, readTimeout, fastest[1], readTimeout/2)
		}
	}

	cases := []struct {
		name      string
		data      []byte
		halfClose bool
		reply     string // "" for closed without a reply
		outcome   string
	}{
		{"1 MiB line", bytesOf('w', 1<<20), false, "", `outcome="bad_request"`},
		{"300 bytes and a newline", append(bytesOf('a', 300), '\n'), false, "", `outcome="bad_request"`},
		{"binary garbage", []byte("\x00\x01\xff\xfe\x16\x03\x01\x02\x00\n"), false, "", `outcome="bad_request"`},
		{"TLS hello", []byte("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"), false, "", `outcome="bad_request"`},
		{"half-closed, nothing sent", nil, true, stormReplies[""][0] + "\n", `outcome="ok"`},
		{"half-closed after a name without newline", []byte("worker"), true, stormReplies["worker"][0] + "\n", `outcome="ok"`},
		{"unknown service", []byte("nosuch\n"), false, "\n", `outcome="unknown_service"`},
		{"HTTP request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, "\n", `outcome="unknown_service"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := metricSum(ag.get(t, "/metrics"), "haproxy_agent_polls_total", tc.outcome)
			closedWithin(t, tc.data, tc.halfClose, tc.reply)
			waitMetric(t, ag, "haproxy_agent_polls_total", before+attempts, tc.outcome)
		})
	}

	t.Run("reset by the client", func(t *testing.T) {
		before := metricSum(ag.get(t, "/metrics"), "haproxy_agent_polls_total")
		c, err := net.Dial("tcp", ag.poll)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("work"))
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
		waitMetric(t, ag, "haproxy_agent_polls_total", before+1)
	})
}

func bytesOf(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// waitMetric waits for the sum of a metric's matching samples to reach at
// least want; its 30 s deadline only catches a count that never comes.
func waitMetric(t *testing.T, ag *runningAgent, name string, want float64, match ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := metricSum(ag.get(t, "/metrics"), name, match...)
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v; want at least %v", name, match, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConnectionCap opens more silent connections than the cap: those past
// it are closed at once, without a reply, and counted; those under it are
// answered when their read deadline passes. "At once" is an order, not a
// wall-clock figure: every rejected connection is closed before the first
// answer, which comes a whole read deadline after accept.
func TestConnectionCap(t *testing.T) {
	// Not parallel: it tells connections closed at once from those answered at
	// the read deadline by their timing, which tests beside it would blur.
	leakCheck(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeAtomic(t, path, stormA)
	const capConns, open = 50, 120
	ag := startAgent(t, Options{RulesPath: path, MaxConnections: capConns, PollReadTimeout: 2 * time.Second, Logger: quietLogger()})
	before := ag.get(t, "/metrics")

	conns := make([]net.Conn, 0, open)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range open {
		c, err := net.Dial("tcp", ag.poll)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	var (
		mu                   sync.Mutex
		closed, answered     int
		lastClose, firstAnsw time.Time
		other                []string
	)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			// A deadline that only catches hangs.
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			got, err := io.ReadAll(c)
			at := time.Now()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case len(got) == 0 && !errors.Is(err, os.ErrDeadlineExceeded):
				closed++
				if at.After(lastClose) {
					lastClose = at
				}
			case string(got) == stormReplies[""][0]+"\n":
				answered++
				if firstAnsw.IsZero() || at.Before(firstAnsw) {
					firstAnsw = at
				}
			default:
				other = append(other, fmt.Sprintf("%q, %v", got, err))
			}
		})
	}
	wg.Wait()
	after := ag.get(t, "/metrics")
	rejected := metricSum(after, "haproxy_agent_poll_connections_rejected_total", `reason="limit"`) -
		metricSum(before, "haproxy_agent_poll_connections_rejected_total", `reason="limit"`)
	t.Logf("cap %d, %d opened: %d closed without a reply, %d answered at the read deadline (the first %s after the last close), %v counted as rejected",
		capConns, open, closed, answered, firstAnsw.Sub(lastClose), rejected)
	if answered != capConns || closed != open-capConns || rejected != open-capConns {
		t.Errorf("want %d answered and %d closed without a reply and counted; other ends: %v", capConns, open-capConns, other)
	}
	if closed > 0 && answered > 0 && !lastClose.Before(firstAnsw) {
		t.Errorf("a connection past the cap was closed %s after the first answer at the read deadline: not at once", lastClose.Sub(firstAnsw))
	}
}

// TestAllowListAtAppLevel starts the agent with an allow list that excludes
// 127.0.0.1: polls are closed at once without a reply and counted. With a
// read deadline of a minute, "at once" means long before that deadline
// fires: an agent that read or waited before rejecting would hold each
// poll for the whole minute.
func TestAllowListAtAppLevel(t *testing.T) {
	t.Parallel()
	leakCheck(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeAtomic(t, path, stormA)
	const readTimeout = time.Minute
	ag := startAgent(t, Options{RulesPath: path, PollReadTimeout: readTimeout, Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}, Logger: quietLogger()})
	const n = 20
	for range n {
		start := time.Now()
		r, err := poll(ag.poll, "\n", 2*readTimeout)
		if err == nil {
			t.Fatalf("poll from 127.0.0.1 answered %q", r)
		}
		if d := time.Since(start); d > readTimeout/2 {
			t.Errorf("closed after %s; want at once, long before the %s read deadline", d, readTimeout)
		}
	}
	m := ag.get(t, "/metrics")
	if got := metricSum(m, "haproxy_agent_poll_connections_rejected_total", `reason="not_allowed"`); got != n {
		t.Errorf("rejected not_allowed = %v; want %d", got, n)
	}
	if got := metricSum(m, "haproxy_agent_polls_total", `outcome="ok"`); got != 0 {
		t.Errorf("%v polls answered", got)
	}
}

// failingRules has one good source and one per way a dependency fails.
const failingRules = `interval: 300ms
sources:
  good:
    scrape: %[1]s
    timeout: 200ms
  slow:
    scrape: %[2]s/slow
    timeout: 200ms
  hang:
    scrape: %[3]s
    timeout: 200ms
  http500:
    scrape: %[2]s/500
    timeout: 200ms
  garbage:
    scrape: %[2]s/garbage
    timeout: 200ms
  truncated:
    scrape: %[2]s/truncated
    timeout: 200ms
  huge:
    scrape: %[2]s/1GB
    timeout: 200ms
    body_limit: 1MiB
  loop:
    scrape: %[2]s/loop
    timeout: 200ms
  html:
    scrape: %[2]s/html
    timeout: 200ms
  prom_hang:
    prometheus: %[3]s
    timeout: 200ms
  prom_garbage:
    prometheus: %[2]s/garbage
    timeout: 200ms
metrics:
  queue_depth: good:queue_depth
  m_slow: slow:x
  m_hang: hang:x
  m_500: http500:x
  m_garbage: garbage:x
  m_truncated: truncated:x
  m_huge: huge:x
  m_loop: loop:x
  m_html: html:x
  m_prom_hang: prom_hang:x
  m_prom_garbage: prom_garbage:x
rules:
  - queue_depth > 500 => drain
  - m_slow + m_hang + m_500 + m_garbage + m_truncated + m_huge + m_loop + m_html + m_prom_hang + m_prom_garbage > 0 => down
`

// TestFailingSources runs the agent against one good source and one source
// per failure: slower than the timeout, silent forever, HTTP 500, garbage,
// truncated, a 1 GB body, a redirect loop, HTML, and two Prometheus
// sources. Each failure must show in /status as a clear reason, the
// evaluation loop must keep its pace, and the good source's metric must
// keep updating.
func TestFailingSources(t *testing.T) {
	// Not parallel: its sources time out after 200ms, and its good source must
	// not, which tests beside it could make it do.
	leakCheck(t)
	exp := newExporter(t)
	var sent atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
			fmt.Fprintln(w, "x 1")
		}
	})
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	garbage := func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("\x00\x01 this is { not metrics\n"))
	}
	mux.HandleFunc("/garbage", garbage)
	// The prometheus source's API paths under it: /garbage/api/v1/query.
	mux.HandleFunc("/garbage/", garbage)
	mux.HandleFunc("/truncated", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.Write([]byte("x 1\n"))
	})
	mux.HandleFunc("/1GB", func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("filler{a=\"b\"} 1\n", 4096))
		for n := 0; n < 1<<30; n += len(chunk) {
			m, err := w.Write(chunk)
			sent.Add(int64(m))
			if err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>sign in</body></html>\n"))
	})
	bad := httptest.NewServer(mux)
	t.Cleanup(bad.Close)
	silent := testutil.BlackHole(t)

	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeAtomic(t, path, fmt.Sprintf(failingRules, exp.srv.URL, bad.URL, silent))
	ag := startAgent(t, Options{RulesPath: path, Logger: quietLogger()})

	want := map[string]string{
		"slow":         "timeout after 200ms",
		"hang":         "timeout after 200ms",
		"http500":      "HTTP 500",
		"garbage":      "parse error",
		"truncated":    "truncated body",
		"huge":         "body larger than 1MiB",
		"loop":         "redirects",
		"html":         "parse error",
		"prom_hang":    "timeout after 200ms",
		"prom_garbage": "invalid character",
	}
	// seen are the failing sources that /status has shown down with their
	// reason. On a loaded machine a read cancelled at its timeout may still
	// be returning at the next cycle, which then reports "previous read
	// still running" instead: the reason need not be the last error, only
	// have been shown.
	seen := map[string]bool{}
	status := func() Status {
		t.Helper()
		var st Status
		body := ag.get(t, "/status")
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("/status is not JSON (%v): %q", err, body)
		}
		for _, s := range st.Sources {
			if w, ok := want[s.Name]; ok && !s.Up && strings.Contains(s.LastError, w) {
				seen[s.Name] = true
			}
		}
		return st
	}

	// The baseline of the loop's pace: a ticker at the same 300ms
	// interval in this process, over the same span, which a starved
	// machine slows down as it slows the agent's loop.
	var ticks atomic.Int64
	tickStop := make(chan struct{})
	tickDone := make(chan struct{})
	go func() {
		defer close(tickDone)
		tk := time.NewTicker(300 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-tickStop:
				return
			case <-tk.C:
				ticks.Add(1)
			}
		}
	}()
	evals0 := metricSum(ag.get(t, "/metrics"), "haproxy_agent_evaluations_total")
	start := time.Now()
	for _, v := range []float64{42, 43, 44, 45} {
		exp.set("queue_depth", v)
		waitFor(t, fmt.Sprintf("queue_depth %v in /status", v), func() bool {
			for _, m := range status().Metrics {
				if m.Name == "queue_depth" && m.Value != nil && *m.Value == v {
					return true
				}
			}
			return false
		})
	}
	elapsed := time.Since(start)
	evals := metricSum(ag.get(t, "/metrics"), "haproxy_agent_evaluations_total") - evals0
	close(tickStop)
	<-tickDone

	st := status()
	for _, s := range st.Sources {
		w, ok := want[s.Name]
		if !ok {
			if !s.Up {
				t.Errorf("source %s down: %s", s.Name, s.LastError)
			}
			continue
		}
		t.Logf("source %-12s up=%v after %.0fms: %s", s.Name, s.Up, s.DurationSeconds*1000, s.LastError)
		if s.Up || s.LastError == "" || !seen[s.Name] {
			t.Errorf("source %s: up=%v, last error %q; want a failure mentioning %q (shown before: %v)", s.Name, s.Up, s.LastError, w, seen[s.Name])
		}
		// Only a read that ignored its timeout fails this (the slow
		// server answers after 10s, the hanging ones never), not a slow
		// machine.
		if s.DurationSeconds > 5 {
			t.Errorf("source %s: read took %.3fs with a 200ms timeout", s.Name, s.DurationSeconds)
		}
	}
	for _, m := range st.Metrics {
		if m.Name != "queue_depth" && m.Missing == "" {
			t.Errorf("metric %s not missing", m.Name)
		}
	}
	if reply := st.Services[0].Reply; reply != "up ready 100%\n" {
		t.Errorf("reply %q: the failing sources changed the reply (on_missing keep)", reply)
	}
	t.Logf("%v evaluations in %s at a 300ms interval, beside %d ticks of a 300ms ticker; last collect %.0fms",
		evals, elapsed.Round(time.Millisecond), ticks.Load(), st.CollectSeconds*1000)
	if min := float64(ticks.Load()/2 - 1); evals < min {
		t.Errorf("%v evaluations in %s; a ticker at the same interval ticked %d times: want at least %.0f", evals, elapsed, ticks.Load(), min)
	}
	if n := sent.Load(); n > 64<<20 {
		t.Errorf("the 1 GB source wrote %d MiB", n>>20)
	}
}
