package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/pollbench"
)

// TestPollsWhilePageLoadedInALoop loads the status page of a 100-rule file
// back to back while pollers poll the agent port, and compares the polls
// per second with the same pollers while /healthz (the cheapest endpoint)
// is loaded the same way. Both loops compete for the same two cores, so
// the ratio says what the page costs the agent port beyond any HTTP
// client: it must stay close to 1, with no failed poll. Rounds alternate
// to cancel the drift of a shared machine; the median ratio is judged.
func TestPollsWhilePageLoadedInALoop(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	leakCheck(t)
	var rules strings.Builder
	rules.WriteString("interval: 1s\nmetrics:\n  cpu: host:cpu\n  load1: host:load1\n  mem: host:mem_used_ratio\nrules:\n")
	for i := range 100 {
		fmt.Fprintf(&rules, "  - name: rule-%d\n    when: cpu > %d || load1 > 1000 + %d\n    then: weight %d%%\n", i, 2+i, i, 5+i%90)
	}
	path := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(path, []byte(rules.String()), 0o644)
	ag := startAgent(t, Options{RulesPath: path, Logger: quietLogger()})

	measure := func(page string) float64 {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		tr := &http.Transport{}
		client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		var wg sync.WaitGroup
		var loads, loadErrs int64
		var mu sync.Mutex
		for range 2 {
			wg.Go(func() {
				for ctx.Err() == nil {
					resp, err := client.Get("http://" + ag.web + page)
					mu.Lock()
					loads++
					if err != nil || resp.StatusCode != 200 {
						loadErrs++
					}
					mu.Unlock()
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			})
		}
		rep, err := pollbench.Run(context.Background(), pollbench.Config{
			Addr: ag.poll, Concurrency: 8, Duration: time.Second, Warmup: 200 * time.Millisecond, Timeout: time.Second,
		})
		cancel()
		wg.Wait()
		tr.CloseIdleConnections()
		if err != nil {
			t.Fatal(err)
		}
		if n := rep.ErrorCount(); n != 0 {
			t.Errorf("while loading %s: %d of %d polls failed", page, n, rep.Polls)
		}
		if loadErrs != 0 {
			t.Errorf("%d of %d loads of %s failed", loadErrs, loads, page)
		}
		t.Logf("loading %s (%d loads): %.0f polls/s", page, loads, rep.Throughput)
		return rep.Throughput
	}
	var ratios []float64
	for round := range 3 {
		var healthz, page float64
		if round%2 == 0 {
			healthz, page = measure("/healthz"), measure("/")
		} else {
			page, healthz = measure("/"), measure("/healthz")
		}
		ratios = append(ratios, page/healthz)
	}
	slices.Sort(ratios)
	median := ratios[len(ratios)/2]
	t.Logf("polls/s while the page is loaded in a loop over polls/s while /healthz is: %.2f (rounds %.2f)", median, ratios)
	if median < 0.85 {
		t.Errorf("the page costs the agent port %.0f%% of its polls beyond what any HTTP client costs", 100*(1-median))
	}
}
