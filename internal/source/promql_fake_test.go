package source

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/rules"
)

// fakeAPI is a Prometheus query API whose answers the test writes: answer
// returns the JSON "data" object for a query. It counts requests per
// query, connections, and the most requests it had in flight at once.
type fakeAPI struct {
	url    string
	delay  time.Duration
	answer func(q string, at float64) string
	// hangAfter, when > 0, answers that many requests, then leaves the
	// next ones unanswered until their client goes away. Set it before
	// the first request.
	hangAfter int
	mu        sync.Mutex
	requests  map[string]int
	served    int
	inFlight  int
	maxIn     int
	conns     atomic.Int64
}

func newFakeAPI(t *testing.T, delay time.Duration, answer func(q string, at float64) string) *fakeAPI {
	t.Helper()
	f := &fakeAPI{delay: delay, answer: answer, requests: map[string]int{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	q := r.Form.Get("query")
	var at float64
	_, _ = fmt.Sscan(r.Form.Get("time"), &at)
	f.mu.Lock()
	f.requests[q]++
	f.served++
	hang := f.hangAfter > 0 && f.served > f.hangAfter
	f.inFlight++
	f.maxIn = max(f.maxIn, f.inFlight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if hang {
		<-r.Context().Done()
		return
	}
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"status":"success","data":%s}`, f.answer(q, at))
}

func (f *fakeAPI) stats() (total, distinct, maxIn int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.requests {
		total += n
	}
	return total, len(f.requests), f.maxIn
}

// vectorOf answers a vector of one sample, the query's number, at the
// query's time.
func vectorOf(q string, at float64) string {
	var n int
	_, _ = fmt.Sscanf(q, "q%d", &n)
	return fmt.Sprintf(`{"resultType":"vector","result":[{"metric":{},"value":[%.3f,"%d"]}]}`, at, n)
}

func newPromQLN(t *testing.T, url string, timeout time.Duration, n int) *promql {
	t.Helper()
	p, err := newPromQL(&rules.Source{Name: "prom", Kind: rules.KindPrometheus, Timeout: timeout, Config: &rules.PrometheusConfig{URL: url, MaxConcurrency: n}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// TestPromQLBoundedAndShared: 200 metrics with 100 distinct queries on a
// source bounded to 4: 100 requests per read, never more than 4 at once,
// and 300 requests over three reads on at most 8 connections, kept alive
// from read to read. (Go's transport may dial for a waiting request and
// then hand it a connection freed meanwhile: each worker holds one
// connection, so the pool settles at a little over the bound, never over
// twice it.)
func TestPromQLBoundedAndShared(t *testing.T) {
	api := newFakeAPI(t, 2*time.Millisecond, vectorOf)
	p := newPromQLN(t, api.url, 5*time.Second, 4)
	var ms []*rules.Metric
	for i := range 200 {
		ms = append(ms, promMetric(fmt.Sprintf("m%d", i), fmt.Sprintf("q%d", i%100), ""))
	}
	for read := 1; read <= 3; read++ {
		rs, err := p.Read(context.Background(), ms)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rs {
			if r.Err != nil || r.Value != float64(i%100) {
				t.Fatalf("read %d: %s = %v, %v; want %d", read, ms[i].Name, r.Value, r.Err, i%100)
			}
		}
		total, distinct, maxIn := api.stats()
		if total != 100*read || distinct != 100 {
			t.Errorf("read %d: %d requests for %d queries; want %d for 100", read, total, distinct, 100*read)
		}
		if maxIn > 4 {
			t.Errorf("read %d: %d requests in flight at once; want at most 4", read, maxIn)
		}
		if c := api.conns.Load(); c > 8 {
			t.Errorf("after read %d: %d connections for %d requests; want at most 8, kept alive", read, c, 100*read)
		}
	}
}

// TestPromQLReadWithinTimeout: queries that cannot all run within the
// timeout fail with it; the read as a whole still ends in time, and the
// queries that ran keep their values.
// TestPromQLReadWithinTimeout reads 40 queries one at a time from an API
// that answers five and then hangs: the read ends at its timeout with the
// five values and 35 timeouts, and no query is sent after the one that
// hung. Counts, not clocks: the read's duration is only checked against
// hangs.
func TestPromQLReadWithinTimeout(t *testing.T) {
	api := newFakeAPI(t, 0, vectorOf)
	const answered = 5
	api.hangAfter = answered
	const timeout = 300 * time.Millisecond
	p := newPromQLN(t, api.url, timeout, 1)
	var ms []*rules.Metric
	for i := range 40 {
		ms = append(ms, promMetric(fmt.Sprintf("m%d", i), fmt.Sprintf("q%d", i), ""))
	}
	start := time.Now()
	rs, err := p.Read(context.Background(), ms)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	ok, timedOut := 0, 0
	for i, r := range rs {
		switch {
		case r.Err == nil && r.Value == float64(i):
			ok++
		case r.Err != nil && r.Err.Error() == "timeout after 300ms":
			timedOut++
		default:
			t.Errorf("%s = %v, %v", ms[i].Name, r.Value, r.Err)
		}
	}
	if ok != answered || timedOut != len(ms)-answered {
		t.Errorf("%d values and %d timeouts of %d; want %d values, the rest timeouts", ok, timedOut, len(ms), answered)
	}
	if total, _, _ := api.stats(); total != answered+1 {
		t.Errorf("%d requests sent; want %d: queries started after the one that hung", total, answered+1)
	}
	if took > timeout+10*time.Second {
		t.Errorf("read took %s with a timeout of %s", took, timeout)
	}
}

func TestPromQLSampleKinds(t *testing.T) {
	api := newFakeAPI(t, 0, func(q string, at float64) string {
		switch q {
		case "hist":
			return fmt.Sprintf(`{"resultType":"vector","result":[{"metric":{"__name__":"lat"},"histogram":[%.3f,{"count":"10","sum":"3","buckets":[[0,"0.1","0.2","10"]]}]}]}`, at)
		case "old":
			return fmt.Sprintf(`{"resultType":"vector","result":[{"metric":{},"value":[%.3f,"5"]}]}`, at-60)
		case "oldscalar":
			return fmt.Sprintf(`{"resultType":"scalar","result":[%.3f,"5"]}`, at-30)
		case "future":
			return fmt.Sprintf(`{"resultType":"vector","result":[{"metric":{},"value":[%.3f,"5"]}]}`, at+60)
		case "by":
			return fmt.Sprintf(`{"resultType":"vector","result":[
				{"metric":{"server":"web1"},"value":[%.3[1]f,"1"]},
				{"metric":{"server":"web2"},"value":[%.3[1]f,"2"]},
				{"metric":{"server":"web3","pod":"a"},"value":[%.3[1]f,"3"]},
				{"metric":{"server":"web3","pod":"b"},"value":[%.3[1]f,"4"]},
				{"metric":{"server":"web4"},"value":[%.3[2]f,"5"]},
				{"metric":{"other":"x"},"value":[%.3[1]f,"6"]}]}`, at, at-20)
		}
		return `{"resultType":"vector","result":[]}`
	})
	p := newPromQLN(t, api.url, 5*time.Second, 2)
	by := promMetric("by", "by", "")
	by.ByLabel = "server"
	bySum := promMetric("bysum", "by", rules.AggSum)
	bySum.ByLabel = "server"
	ms := []*rules.Metric{promMetric("hist", "hist", ""), promMetric("histsum", "hist", rules.AggSum),
		promMetric("old", "old", ""), promMetric("oldscalar", "oldscalar", ""), promMetric("future", "future", ""), by, bySum}
	rs, err := p.Read(context.Background(), ms)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if rs[i].Err == nil || !strings.Contains(rs[i].Err.Error(), `lat is a native histogram, not a number`) {
			t.Errorf("%s = %v, %v; want missing: a native histogram is not a number", ms[i].Name, rs[i].Value, rs[i].Err)
		}
	}
	near := func(d, want time.Duration) bool { return d >= want-time.Second && d <= want+time.Second }
	if r := rs[2]; r.Err != nil || r.Value != 5 || !near(r.Age, time.Minute) {
		t.Errorf("old = %+v; want 5, 1m old", r)
	}
	if r := rs[3]; r.Err != nil || r.Value != 5 || !near(r.Age, 30*time.Second) {
		t.Errorf("oldscalar = %+v; want 5, 30s old", r)
	}
	if r := rs[4]; r.Err != nil || r.Value != 5 || r.Age != 0 {
		t.Errorf("future = %+v; want 5, age 0", r)
	}
	if r := rs[5]; r.Err == nil || r.Err.Error() != "6 samples returned; set aggregate" || len(r.ByLabel) != 4 {
		t.Errorf("by = %+v", r)
	}
	got := rs[5].ByLabel
	if got["web1"].Value != 1 || got["web1"].Err != nil || got["web2"].Value != 2 ||
		got["web3"].Err == nil || got["web3"].Err.Error() != "2 samples returned; set aggregate" ||
		got["web4"].Value != 5 || !near(got["web4"].Age, 20*time.Second) {
		t.Errorf("by label = %+v", got)
	}
	if r := rs[6]; r.Err != nil || r.Value != 21 || r.ByLabel["web3"].Value != 7 || r.ByLabel["web3"].Err != nil || !near(r.Age, 20*time.Second) {
		t.Errorf("bysum = %+v", r)
	}
	if total, _, _ := api.stats(); total != 5 {
		t.Errorf("%d requests for 5 distinct queries", total)
	}
}
