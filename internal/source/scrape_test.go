package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

const textPage = `# HELP jobs_queue_depth Jobs waiting.
# TYPE jobs_queue_depth gauge
jobs_queue_depth{queue="default"} 42
jobs_queue_depth{queue="mail"} 7
# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{code="200"} 1000
http_requests_total{code="500"} 3
http_requests_total{code="503"} 2 1712345678000
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.1"} 10
latency_seconds_bucket{le="0.5"} 60
latency_seconds_bucket{le="+Inf"} 100
latency_seconds_sum 31.5
latency_seconds_count 100
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 0.02
rpc_seconds{quantile="0.99"} 0.25
rpc_seconds_sum 12
rpc_seconds_count 400
broken_gauge NaN
  indented_gauge 5
`

const omPage = `# HELP jobs_queue_depth Jobs waiting.
# TYPE jobs_queue_depth gauge
jobs_queue_depth{queue="default"} 42 1712345678.123
jobs_queue_depth{queue="mail"} 7
# TYPE http_requests counter
http_requests_total{code="200"} 1000 # {trace_id="abc"} 1 1712345678.5
http_requests_total{code="500"} 3
http_requests_created{code="500"} 1712345678.5
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.1"} 10
latency_seconds_bucket{le="0.5"} 60
latency_seconds_bucket{le="+Inf"} 100
latency_seconds_sum 31.5
latency_seconds_count 100
# EOF
`

// wantValues are the values of the selectors that both pages serve.
var wantValues = map[string]float64{
	`jobs_queue_depth{queue="default"}`:          42,
	`http_requests_total{code="500"}`:            3,
	`latency_seconds_bucket{le="0.5"}`:           60,
	`latency_seconds_bucket{le="+Inf"}`:          100,
	`latency_seconds_sum`:                        31.5,
	`latency_seconds_count`:                      100,
	`{__name__="jobs_queue_depth",queue="mail"}`: 7,
}

func TestScrapeFormats(t *testing.T) {
	gz := func(s string) string {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = w.Write([]byte(s))
		_ = w.Close()
		return b.String()
	}
	for _, tc := range []struct {
		name, contentType, encoding, body string
	}{
		{"text", textCT, "", textPage},
		{"openmetrics", omCT, "", omPage},
		{"gzip", textCT, "gzip", gz(textPage)},
		{"gzip openmetrics", omCT, "gzip", gz(omPage)},
		{"no trailing newline", textCT, "", strings.TrimSuffix(textPage, "\n")},
		{"openmetrics no trailing newline", omCT, "", strings.TrimSuffix(omPage, "\n")},
		{"wrong content type", "text/html", "", textPage},
		{"no content type", "", "", textPage},
		{"text version 1.0.0", "text/plain; version=1.0.0", "", textPage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				} else {
					w.Header()["Content-Type"] = nil // no sniffing
				}
				if tc.encoding != "" {
					if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
						t.Errorf("Accept-Encoding = %q", r.Header.Get("Accept-Encoding"))
					}
					w.Header().Set("Content-Encoding", tc.encoding)
				}
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			s := newScrapeT(t, scrapeSource(srv.URL))
			var ms []*rules.Metric
			var sels []string
			for sel := range wantValues {
				ms = append(ms, metric(t, "m", sel))
				sels = append(sels, sel)
			}
			rs, err := s.Read(context.Background(), ms)
			if err != nil {
				t.Fatal(err)
			}
			for i, sel := range sels {
				if rs[i].Err != nil || rs[i].Value != wantValues[sel] {
					t.Errorf("%s = %v, %v; want %v", sel, rs[i].Value, rs[i].Err, wantValues[sel])
				}
			}
		})
	}
}

func TestScrapeSelect(t *testing.T) {
	srv := exporter(t, textCT, textPage)
	for _, tc := range []struct {
		sel     string
		agg     rules.Aggregation
		want    float64
		wantErr string
	}{
		{sel: `jobs_queue_depth{queue="default"}`, want: 42},
		{sel: `jobs_queue_depth`, wantErr: "2 series matched; set aggregate"},
		{sel: `jobs_queue_depth`, agg: rules.AggSum, want: 49},
		{sel: `jobs_queue_depth`, agg: rules.AggMin, want: 7},
		{sel: `jobs_queue_depth`, agg: rules.AggMax, want: 42},
		{sel: `jobs_queue_depth`, agg: rules.AggAvg, want: 24.5},
		{sel: `jobs_queue_depth`, agg: rules.AggCount, want: 2},
		{sel: `jobs_queue_depth{queue="default"}`, agg: rules.AggSum, want: 42},
		{sel: `http_requests_total{code=~"5.."}`, wantErr: "2 series matched; set aggregate"},
		{sel: `http_requests_total{code=~"5.."}`, agg: rules.AggSum, want: 5},
		{sel: `http_requests_total`, wantErr: "3 series matched; set aggregate"},
		{sel: `http_requests_total{code!="200"}`, agg: rules.AggMax, want: 3},
		{sel: `jobs_queue_depth{queue="none"}`, wantErr: `no series matched jobs_queue_depth{queue="none"}`},
		{sel: `absent_metric`, wantErr: "no series matched absent_metric"},
		{sel: `latency_seconds_bucket{le="0.1"}`, want: 10},
		{sel: `latency_seconds_bucket{le="+Inf"}`, want: 100},
		{sel: `latency_seconds_sum`, want: 31.5},
		{sel: `latency_seconds_count`, want: 100},
		{sel: `latency_seconds`, wantErr: "no series matched latency_seconds"},
		{sel: `rpc_seconds{quantile="0.99"}`, want: 0.25},
		{sel: `rpc_seconds{quantile="0.5"}`, want: 0.02},
		{sel: `rpc_seconds_count`, want: 400},
		{sel: `rpc_seconds_sum`, want: 12},
		{sel: `rpc_seconds{quantile=""}`, wantErr: `no series matched rpc_seconds{quantile=""}`},
		// NaN is passed on as such: the collector makes it missing.
		{sel: `broken_gauge`, want: math.NaN()},
		{sel: `indented_gauge`, want: 5},
		{sel: `{__name__=~"rpc_seconds_(sum|count)"}`, agg: rules.AggSum, want: 412},
		{sel: `{__name__=~"jobs_.*", queue="mail"}`, want: 7},
		{sel: `{queue="mail"}`, want: 7},
		{sel: `jobs_queue_depth{missing_label=""}`, agg: rules.AggCount, want: 2},
	} {
		m := withAgg(metric(t, "m", tc.sel), tc.agg)
		s := newScrapeT(t, scrapeSource(srv.URL))
		rs, err := s.Read(context.Background(), []*rules.Metric{m})
		if err != nil {
			t.Fatalf("%s: %v", tc.sel, err)
		}
		got := rs[0]
		if tc.wantErr != "" {
			if got.Err == nil || got.Err.Error() != tc.wantErr {
				t.Errorf("%s %s: got %v, %v; want error %q", tc.sel, tc.agg, got.Value, got.Err, tc.wantErr)
			}
			continue
		}
		if math.IsNaN(tc.want) && got.Err == nil && math.IsNaN(got.Value) {
			continue
		}
		if got.Err != nil || math.Abs(got.Value-tc.want) > 1e-9 {
			t.Errorf("%s %s = %v, %v; want %v", tc.sel, tc.agg, got.Value, got.Err, tc.want)
		}
	}
}

func TestScrapeErrors(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	truncated := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "100000")
		_, _ = w.Write([]byte(textPage))
		// Returning with less than Content-Length makes the server close the connection.
	}))
	defer truncated.Close()
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := bytes.Repeat([]byte("filler_metric_with_a_long_name{label=\"value\"} 1\n"), 1<<14)
		for n := 0; n < 20<<20; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer huge.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer failing.Close()
	garbage := exporter(t, "text/html", "<html><body>Hello</body></html>\n")
	garbageLate := exporter(t, textCT, textPage+"this is not a metric line at all\n")
	omNoEOF := exporter(t, omCT, strings.TrimSuffix(omPage, "# EOF\n"))
	badValue := exporter(t, textCT, "jobs_queue_depth{queue=\"default\"} forty-two\n")
	nul := exporter(t, textCT, "jobs_queue_depth 1\n\x00\x01 binary\n")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String() + "/metrics"
	_ = l.Close()

	for _, tc := range []struct {
		name, url string
		timeout   time.Duration
		limit     int64
		// bigTimeout gives a slow (race-detector) machine time to read 16MiB.
		bigTimeout bool
		want       string
	}{
		{name: "slow", url: slow.URL, timeout: 200 * time.Millisecond, want: "timeout after 200ms"},
		{name: "truncated", url: truncated.URL, want: "truncated body (unexpected EOF)"},
		{name: "20MB", url: huge.URL, bigTimeout: true, want: "body larger than 16MiB"},
		{name: "small limit", url: huge.URL, limit: 1000, want: "body larger than 1000 bytes"},
		{name: "HTTP 500", url: failing.URL, want: "HTTP 500 Internal Server Error"},
		{name: "garbage", url: garbage.URL, want: `parse error at line 1: expected a valid start token, got "<"`},
		{name: "garbage after good lines", url: garbageLate.URL, want: `parse error at line 23: `},
		{name: "openmetrics without EOF", url: omNoEOF.URL, want: "openmetrics page does not end with # EOF"},
		{name: "bad value", url: badValue.URL, want: `parse error at line 1: strconv.ParseFloat: parsing "forty-two": invalid syntax`},
		{name: "NUL byte", url: nul.URL, want: "parse error at line 2: NUL byte: not a text page"},
		{name: "connection refused", url: refused, want: "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := scrapeSource(tc.url)
			if tc.timeout > 0 {
				src.Timeout = tc.timeout
			}
			if tc.limit > 0 {
				src.Config.(*rules.ScrapeConfig).BodyLimit = tc.limit
			}
			if tc.bigTimeout {
				src.Timeout = 20 * time.Second
			}
			s := newScrapeT(t, src)
			start := time.Now()
			rs, err := s.Read(context.Background(), []*rules.Metric{metric(t, "m", `jobs_queue_depth{queue="default"}`)})
			if err == nil {
				t.Fatalf("no error; readings %+v", rs)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q; want prefix %q", err, tc.want)
			}
			if tc.timeout > 0 {
				// Only a read that ignored its timeout fails this:
				// a stalled machine may be late by seconds.
				if d := time.Since(start); d > tc.timeout+10*time.Second {
					t.Errorf("took %s with timeout %s", d, tc.timeout)
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%v is not context.DeadlineExceeded", err)
				}
				var te *sample.TimeoutError
				if !errors.As(err, &te) {
					t.Errorf("%T is not a *sample.TimeoutError", err)
				}
			}
		})
	}
}

func TestScrapeContextCancels(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	s := newScrapeT(t, scrapeSource(srv.URL))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := s.Read(ctx, []*rules.Metric{metric(t, "m", "x")})
	// The handler never answers: only the cancellation ends the read (the
	// bound catches a read that ignored it, not a slow machine).
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
}

func TestScrapeOneRequestPerRead(t *testing.T) {
	var requests atomic.Int32
	var accept atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		accept.Store(r.Header.Get("Accept"))
		w.Header().Set("Content-Type", textCT)
		_, _ = w.Write([]byte(textPage))
	}))
	defer srv.Close()
	s := newScrapeT(t, scrapeSource(srv.URL))
	ms := []*rules.Metric{
		metric(t, "a", `jobs_queue_depth{queue="default"}`),
		metric(t, "b", `latency_seconds_count`),
		metric(t, "c", `rpc_seconds_sum`),
	}
	for range 3 {
		if _, err := s.Read(context.Background(), ms); err != nil {
			t.Fatal(err)
		}
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("%d requests for 3 reads of 3 metrics", n)
	}
	if a := accept.Load().(string); !strings.HasPrefix(a, "text/plain;version=0.0.4") || !strings.Contains(a, "application/openmetrics-text") {
		t.Errorf("Accept = %q", a)
	}
}

func TestScrapeRate(t *testing.T) {
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", textCT)
		_, _ = w.Write([]byte(body.Load().(string)))
	}))
	defer srv.Close()
	s := newScrapeT(t, scrapeSource(srv.URL))
	clock := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return clock }

	single := metric(t, "errors", `reqs_total{code="500"}`)
	single.Rate = true
	summed := withAgg(metric(t, "all", `reqs_total`), rules.AggSum)
	summed.Rate = true
	same := metric(t, "errors_again", `reqs_total{code="500"}`)
	same.Rate = true
	ms := []*rules.Metric{single, summed, same}

	steps := []struct {
		advance  time.Duration
		page     string
		want     [3]float64
		wantErrs [3]string
	}{
		{0, "reqs_total{code=\"500\"} 100\nreqs_total{code=\"200\"} 1000\n", [3]float64{}, [3]string{"rate needs two scrapes", "rate needs two scrapes", "rate needs two scrapes"}},
		{2 * time.Second, "reqs_total{code=\"500\"} 110\nreqs_total{code=\"200\"} 1100\n", [3]float64{5, 55, 5}, [3]string{}},
		// The 500 counter restarts at 4: an increase of 4 over 4s.
		{4 * time.Second, "reqs_total{code=\"500\"} 4\nreqs_total{code=\"200\"} 1140\n", [3]float64{1, 11, 1}, [3]string{}},
		// A new series has no rate yet; the sum is over those that have one.
		{time.Second, "reqs_total{code=\"500\"} 6\nreqs_total{code=\"200\"} 1150\nreqs_total{code=\"404\"} 9\n", [3]float64{2, 12, 2}, [3]string{}},
	}
	for i, st := range steps {
		clock = clock.Add(st.advance)
		body.Store(st.page)
		rs, err := s.Read(context.Background(), ms)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		for j := range ms {
			if st.wantErrs[j] != "" {
				if rs[j].Err == nil || rs[j].Err.Error() != st.wantErrs[j] {
					t.Errorf("step %d %s: %v, %v; want error %q", i, ms[j].Name, rs[j].Value, rs[j].Err, st.wantErrs[j])
				}
				continue
			}
			if rs[j].Err != nil || math.Abs(rs[j].Value-st.want[j]) > 1e-9 {
				t.Errorf("step %d %s = %v, %v; want %v", i, ms[j].Name, rs[j].Value, rs[j].Err, st.want[j])
			}
		}
	}

	// A failed scrape does not lose the previous value: the next rate
	// spans the gap.
	srv.Close()
	clock = clock.Add(time.Second)
	if _, err := s.Read(context.Background(), ms); err == nil {
		t.Fatal("read of a closed server succeeded")
	}
}

func TestSizeString(t *testing.T) {
	for n, want := range map[int64]string{16 << 20: "16MiB", 1 << 10: "1KiB", 1000: "1000 bytes", 3<<20 + 1: "3145729 bytes"} {
		if got := sizeString(n); got != want {
			t.Errorf("sizeString(%d) = %q; want %q", n, got, want)
		}
	}
}

// TestScrapeCRLFAndTimestamps: a page whose lines end in CRLF reads like
// one with LF; sample timestamps (milliseconds in text, seconds in
// OpenMetrics) give the reading its age.
func TestScrapeCRLFAndTimestamps(t *testing.T) {
	old := time.Now().Add(-time.Minute)
	text := "# HELP jobs_queue_depth Jobs waiting.\r\n# TYPE jobs_queue_depth gauge\r\n" +
		"jobs_queue_depth{queue=\"default\"} 9\r\n" +
		fmt.Sprintf("jobs_queue_depth{queue=\"old\"} 5 %d\r\n", old.UnixMilli())
	om := "# TYPE jobs_queue_depth gauge\r\n" +
		"jobs_queue_depth{queue=\"default\"} 9\r\n" +
		fmt.Sprintf("jobs_queue_depth{queue=\"old\"} 5 %.3f\r\n", float64(old.UnixMilli())/1000) +
		"# EOF\r\n"
	for _, tc := range []struct{ name, ct, body string }{{"text", textCT, text}, {"openmetrics", omCT, om}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScrapeT(t, scrapeSource(exporter(t, tc.ct, tc.body).URL))
			ms := []*rules.Metric{
				metric(t, "fresh", `jobs_queue_depth{queue="default"}`),
				metric(t, "old", `jobs_queue_depth{queue="old"}`),
				withAgg(metric(t, "both", `jobs_queue_depth`), rules.AggSum),
			}
			rs, err := s.Read(context.Background(), ms)
			if err != nil {
				t.Fatal(err)
			}
			if r := rs[0]; r.Err != nil || r.Value != 9 || r.Age != 0 {
				t.Errorf("fresh = %+v; want 9 with no age", r)
			}
			// Up to 30 s more: the time between writing the body and reading it.
			near := func(d time.Duration) bool { return d >= time.Minute && d < time.Minute+30*time.Second }
			if r := rs[1]; r.Err != nil || r.Value != 5 || !near(r.Age) {
				t.Errorf("old = %+v; want 5, a minute old", r)
			}
			if r := rs[2]; r.Err != nil || r.Value != 14 || !near(r.Age) {
				t.Errorf("both = %+v; want 14, as old as its oldest sample", r)
			}
		})
	}
}
