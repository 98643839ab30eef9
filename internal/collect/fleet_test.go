package collect_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/collect"
	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

// byLabelFake answers every metric with the same values by label.
type byLabelFake struct {
	mu   sync.Mutex
	vals map[string]sample.Labeled
	err  error
}

func (f *byLabelFake) Read(_ context.Context, ms []*rules.Metric) ([]sample.Reading, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := make([]sample.Reading, len(ms))
	for i := range ms {
		out[i] = sample.Reading{Err: errors.New("3 samples returned; set aggregate"), ByLabel: f.vals}
	}
	return out, nil
}

func TestCollectFleet(t *testing.T) {
	src := &rules.Source{Name: "prom", Kind: rules.KindPrometheus, Timeout: 200 * time.Millisecond, Config: &rules.PrometheusConfig{URL: "http://prom"}}
	f := &rules.File{Interval: time.Second, StaleAfter: 3 * time.Second, Sources: []*rules.Source{src}}
	f.Metrics = []*rules.Metric{{Name: "queue", Source: "prom", Query: "q", ByLabel: "server"}}
	f.Fleet = &rules.Fleet{Label: "server", Discovery: &rules.Metric{Name: rules.DiscoveryMetric, Index: -1, Source: "prom", Query: "up", ByLabel: "server"}}
	fk := &byLabelFake{vals: map[string]sample.Labeled{"web2": {Value: 5}, "web1": {Value: 7}, "bad name!": {Value: 1}, "web3": {Err: errors.New("2 samples")}, "web4": {Value: 1, Age: 10 * time.Second}}}
	c, err := collect.New(f, func(*rules.Source) (sample.Reader, error) { return fk, nil })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t0 := time.Now()
	res := c.Collect(context.Background(), t0)
	if want := []string{"web1", "web2", "web3"}; !slices.Equal(res.Servers, want) {
		t.Errorf("servers %v, want %v", res.Servers, want)
	}
	q := res.Metrics[0]
	if q.Missing != "" || q.ByServer["web1"] != 7 || q.ServerMissing["web3"] != "2 samples" || !strings.HasPrefix(q.ServerMissing["web4"], "stale: sample timestamp 10s old") {
		t.Errorf("queue %+v", q)
	}
	// A failed read keeps the vector and the servers until stale_after.
	fk.mu.Lock()
	fk.err = errors.New("down")
	fk.mu.Unlock()
	res = c.Collect(context.Background(), t0.Add(2*time.Second))
	if len(res.Servers) != 3 || res.Metrics[0].ByServer["web2"] != 5 {
		t.Errorf("held: servers %v, queue %+v", res.Servers, res.Metrics[0])
	}
	res = c.Collect(context.Background(), t0.Add(4*time.Second))
	if len(res.Servers) != 0 || res.Servers == nil || res.Discovery.Missing == "" || res.Metrics[0].Missing == "" {
		t.Errorf("stale: servers %#v, discovery %+v", res.Servers, res.Discovery)
	}
}

// TestDiscoveryOverItsBound checks that a discovery returning more series
// than its bound is a failed read: the last good list is kept (until
// stale_after), and the reason names the limit.
func TestDiscoveryOverItsBound(t *testing.T) {
	src := &rules.Source{Name: "prom", Kind: rules.KindPrometheus, Timeout: 200 * time.Millisecond, Config: &rules.PrometheusConfig{URL: "http://prom"}}
	f := &rules.File{Interval: time.Second, StaleAfter: 3 * time.Second, Sources: []*rules.Source{src}}
	f.Fleet = &rules.Fleet{Label: "server", Discovery: &rules.Metric{Name: rules.DiscoveryMetric, Index: -1, Source: "prom", Query: "up", ByLabel: "server", MaxSeries: 2}}
	fk := &byLabelFake{vals: map[string]sample.Labeled{"web1": {Value: 1}, "web2": {Value: 1}}}
	c, err := collect.New(f, func(*rules.Source) (sample.Reader, error) { return fk, nil })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t0 := time.Now()
	if res := c.Collect(context.Background(), t0); !slices.Equal(res.Servers, []string{"web1", "web2"}) {
		t.Fatalf("servers %v at the bound", res.Servers)
	}
	fk.mu.Lock()
	fk.vals = map[string]sample.Labeled{"web1": {Value: 1}, "web2": {Value: 1}, "web3": {Value: 1}}
	fk.mu.Unlock()
	res := c.Collect(context.Background(), t0.Add(time.Second))
	if !slices.Equal(res.Servers, []string{"web1", "web2"}) {
		t.Errorf("servers %v over the bound; want the last good list", res.Servers)
	}
	if !strings.Contains(res.Discovery.Err, "returned 3 series by server, over the limit of 2") {
		t.Errorf("discovery error %q", res.Discovery.Err)
	}
}

// TestDiscoveryBoundFromTheFile checks the bound the loader sets: the
// servers limit, lowered so that servers × rules stays within its own.
func TestDiscoveryBoundFromTheFile(t *testing.T) {
	for _, tc := range []struct {
		rules int
		want  int
	}{{0, rules.MaxFleetServers}, {1, rules.MaxFleetServers}, {100, rules.MaxFleetRuleStates / 100}} {
		var b strings.Builder
		b.WriteString("sources:\n  prom: {prometheus: http://127.0.0.1:9090}\nfleet:\n  servers: {source: prom, query: up, label: server}\nmetrics:\n  cpu: host:cpu\nrules:")
		if tc.rules == 0 {
			b.WriteString(" []")
		}
		b.WriteString("\n")
		for i := range tc.rules {
			fmt.Fprintf(&b, "  - cpu > %d => drain\n", i)
		}
		f, err := rules.Parse([]byte(b.String()), "x.yaml")
		if err != nil {
			t.Fatalf("%d rules: %v", tc.rules, err)
		}
		if got := f.Fleet.Discovery.MaxSeries; got != tc.want {
			t.Errorf("%d rules: bound %d, want %d", tc.rules, got, tc.want)
		}
	}
}
