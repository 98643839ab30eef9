package app

import (
	"context"
	"fmt"
	"github.com/haproxy-agent/agent/internal/testutil"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/pollbench"
)

// soakRules is stormA or stormB with a source that flaps: each set gains
// a rule on the exporter's queue depth, so each set has two possible
// replies per service, and a reply mixing the sets matches none of them.
const soakExtra = `sources:
  app:
    scrape: %s
    timeout: 80ms
`

func soakRules(set, url string) string {
	base, name, then := stormA, "a_queue", "drain, weight 61%"
	if set == "B" {
		base, name, then = stormB, "b_queue", "maint, weight 42%"
	}
	base = strings.Replace(base, "metrics:\n  cpus: host:cpus\n", fmt.Sprintf(soakExtra, url)+"metrics:\n  cpus: host:cpus\n  queue: app:queue_depth\n", 1)
	return strings.Replace(base, "services:", fmt.Sprintf("  - name: %s\n    when: queue > 500\n    then: %s\n    description: queue deep\nservices:", name, then), 1)
}

// soakExpect matches every whole reply either soak rule set can give the
// service: with and without its queue rule firing.
func soakExpect(service string) *regexp.Regexp {
	var alts []string
	for _, r := range stormReplies[service] {
		alts = append(alts, regexp.QuoteMeta(r))
	}
	if service == "" {
		alts = append(alts, regexp.QuoteMeta("up drain 61% #set_a; queue deep"), regexp.QuoteMeta("up maint 42% #set_b; queue deep"))
	}
	re, err := pollbench.CompileExpect(strings.Join(alts, "|"))
	if err != nil {
		panic(err)
	}
	return re
}

// vmRSS is this process's resident set size in KiB, from /proc.
func vmRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// TestSoak polls the agent in an open loop at 2,000 polls/s while the
// rule file is rewritten every 200 ms (alternating valid sets and invalid
// content) and the exporter flaps between values, HTTP 500 and hanging past
// the source timeout. AGENT_SOAK_DURATION sets the length (default 10s).
//
// The load alternates between the agent and a baseline in short segments
// (ABBA ABBA...), the same open loop for both, so that the agent's latency
// is judged against the baseline's at the same moments of the machine's
// load; and by exact counts: every poll scheduled is made, and every one
// gets a whole reply of one rule set (the poll timeout only catches hangs).
func TestSoak(t *testing.T) {
	testutil.Long(t)
	duration := 10 * time.Second
	if s := os.Getenv("AGENT_SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("AGENT_SOAK_DURATION: %v", err)
		}
		duration = d
	}
	leakCheck(t)

	// The exporter cycles every 150 ms: queue 0, queue 1000, HTTP 500,
	// hang past the 80 ms timeout.
	var phase atomic.Int64
	exp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch phase.Load() % 4 {
		case 0:
			fmt.Fprintln(w, "queue_depth 0")
		case 1:
			fmt.Fprintln(w, "queue_depth 1000")
		case 2:
			http.Error(w, "flapping", http.StatusInternalServerError)
		case 3:
			select {
			case <-r.Context().Done():
			case <-time.After(time.Second):
			}
		}
	}))
	defer exp.Close()

	runtime.GC()
	goroutinesBefore, rssBefore := runtime.NumGoroutine(), vmRSS()

	// Runs after the agent's stop, which startAgent registers later.
	var goroutinesLoaded int
	var rssLoaded string
	t.Cleanup(func() {
		var after int
		deadline := time.Now().Add(30 * time.Second)
		for {
			runtime.GC()
			after = runtime.NumGoroutine()
			if after <= goroutinesBefore || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("goroutines: %d before, %d under load, %d after stop; VmRSS (test and agent together): %s before, %s under load, %s after stop",
			goroutinesBefore, goroutinesLoaded, after, rssBefore, rssLoaded, vmRSS())
		if after > goroutinesBefore {
			t.Errorf("%d goroutines after stop; %d before", after, goroutinesBefore)
		}
	})

	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeAtomic(t, path, soakRules("A", exp.URL))
	// The read deadline only has to outlast a poller descheduled between
	// connect and write on a loaded machine: past it, a worker poll would
	// get the default service's reply (as it would from HAProxy sending
	// its line that late), which this test would take for a torn reply.
	// The baseline waits as long.
	const readTimeout = 5 * time.Second
	ag := startAgent(t, Options{RulesPath: path, PollReadTimeout: readTimeout, Logger: quietLogger()})
	base := startBaseline(t, readTimeout)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes, flaps atomic.Int64
	wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			// Not t.Fatal: this is not the test's goroutine.
			var err error
			switch n % 4 {
			case 0:
				err = rewriteFile(path, soakRules("B", exp.URL))
			case 2:
				err = replaceFile(path, soakRules("A", exp.URL))
			default:
				err = replaceFile(path, badRuleFiles[(n/2)%len(badRuleFiles)])
			}
			if err != nil {
				t.Errorf("rewriting the rule file: %v", err)
				return
			}
			writes.Add(1)
		}
	})
	wg.Go(func() {
		tick := time.NewTicker(150 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				phase.Add(1)
				flaps.Add(1)
			}
		}
	})

	// 1,600/s for the default service, 400/s for worker: 2,000/s, in
	// short segments alternating between the agent and the baseline.
	// Each segment schedules a count of polls, not a duration, so that a
	// stalled generator makes them late (counted in their latency) rather
	// than fewer.
	// At least two ABBA groups, and segments of at most 500 ms, after one
	// ABBA group of warm-up: a cold process, race detector included, is
	// slow for its first second or so of polls (hundreds of milliseconds
	// at first), which would fall on the side that comes first. The
	// warm-ups' polls must succeed too, but their latencies are not
	// compared.
	segment := min(500*time.Millisecond, duration/8)
	segments := 4 * max(2, int(duration/segment/4))
	pollers := []struct {
		send, service string
		rate          float64
	}{{"\n", "", 1600}, {"worker\n", "worker", 400}}
	baseExpect, _ := pollbench.CompileExpect(regexp.QuoteMeta(baselineLine))
	type side struct {
		polls, ok, scheduled int64
		errs                 map[string]int64
		examples             map[string]string
		latency              []pollbench.Latency
	}
	agent := &side{errs: map[string]int64{}, examples: map[string]string{}}
	baseline := &side{errs: map[string]int64{}, examples: map[string]string{}}
	for i := -4; i < segments; i++ {
		sd, addr := baseline, base
		if abba(i + 4) {
			sd, addr = agent, ag.poll
		}
		reports := make([]pollbench.Report, len(pollers))
		var runs sync.WaitGroup
		for j, p := range pollers {
			expect := baseExpect
			if sd == agent {
				expect = soakExpect(p.service)
			}
			count := int64(p.rate * segment.Seconds())
			sd.scheduled += count
			runs.Go(func() {
				// A timeout that catches hangs, not slowness.
				r, err := pollbench.Run(context.Background(), pollbench.Config{
					Addr: addr, Send: p.send, Expect: expect,
					Rate: p.rate, Count: count, Timeout: 10 * time.Second, Workers: 256,
				})
				if err != nil {
					t.Error(err)
				}
				reports[j] = r
			})
		}
		runs.Wait()
		for _, r := range reports {
			sd.polls += r.Polls
			sd.ok += r.OK
			for k, n := range r.Errors {
				sd.errs[k.String()] += n
			}
			for k, e := range r.Examples {
				sd.examples[k.String()] = e
			}
			if i >= 0 {
				sd.latency = append(sd.latency, r.Latency)
			}
		}
	}
	close(stop)
	wg.Wait()

	m := ag.get(t, "/metrics")
	goroutinesLoaded, rssLoaded = runtime.NumGoroutine(), vmRSS()

	for _, sd := range []struct {
		name string
		*side
	}{{"agent", agent}, {"baseline", baseline}} {
		t.Logf("soak %s: %d of %d scheduled polls made, %d answered, %d failed %v %v",
			sd.name, sd.polls, sd.scheduled, sd.ok, sd.polls-sd.ok, sd.errs, sd.examples)
	}
	t.Logf("soak %s at 2000/s (%d segments of %s, half of them on the agent): %d rule file writes, %d exporter flaps; agent: %v evaluations, %v source read errors, reload ok now %v",
		duration, segments, segment, writes.Load(), flaps.Load(),
		metricSum(m, "haproxy_agent_evaluations_total"), metricSum(m, "haproxy_agent_source_read_errors_total"), metricSum(m, "haproxy_agent_config_last_reload_successful"))
	if agent.polls != agent.scheduled {
		t.Errorf("%d polls made of %d scheduled", agent.polls, agent.scheduled)
	}
	if n := agent.polls - agent.ok; n != 0 {
		t.Errorf("%d of %d polls failed or got a reply of no whole rule set: %v %v", n, agent.polls, agent.errs, agent.examples)
	}
	if n := baseline.polls - baseline.ok; n != 0 {
		t.Logf("%d baseline polls failed: %v %v", n, baseline.errs, baseline.examples)
	}
	// Polls do not wait for evaluations or reloads: an agent whose polls
	// waited for an evaluation would be late by up to the 80 ms source
	// timeout.
	notSlowerThanBaseline(t, "soak", agent.latency, baseline.latency)
}
