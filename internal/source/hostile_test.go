package source

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/config"

	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/internal/testutil"
	"github.com/haproxy-agent/agent/rules"
)

// The hostile servers below complete what scrape_test.go and
// promql_test.go cover (slow, truncated, 20 MB, HTTP 500, garbage,
// refused): a server that never answers whatever the client does, one that
// sends headers and then stalls, a 1 GB body, a redirect loop and a wrong
// content type, for both HTTP source kinds.

// hostile returns the URL of a server whose every path behaves as name
// says, and a count of the body bytes it wrote.
func hostile(t *testing.T, name string) (string, *atomic.Int64) {
	t.Helper()
	if name == "hang" {
		return testutil.BlackHole(t), new(atomic.Int64)
	}
	var sent atomic.Int64
	var h http.HandlerFunc
	switch name {
	case "stall-body":
		h = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", textCT)
			w.Write([]byte("jobs_queue_depth{queue=\"default\"} 1\n"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	case "1GB":
		// Generated as it is sent: never allocated, and the server stops
		// as soon as the client goes.
		h = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", textCT)
			chunk := bytes.Repeat([]byte("filler_metric{label=\"value\"} 1\n"), 2048)
			for n := 0; n < 1<<30; n += len(chunk) {
				m, err := w.Write(chunk)
				sent.Add(int64(m))
				if err != nil {
					return
				}
			}
		}
	case "loop":
		h = func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		}
	case "json":
		h = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[`))
		}
	case "html":
		h = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body>login required</body></html>\n"))
		}
	case "protobuf":
		h = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited")
			w.Write([]byte("\x0a\x10jobs_queue_depth\x18\x01\xff\xff"))
		}
	default:
		t.Fatalf("no hostile server %q", name)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, &sent
}

// checkHostileRead runs read and checks that it fails, with a short
// reason containing want (one of the alternatives separated by |), and not
// long after the timeout: the slack only catches a read that ignored it,
// not a stalled machine.
func checkHostileRead(t *testing.T, timeout time.Duration, want string, read func() error) {
	t.Helper()
	start := time.Now()
	err := read()
	d := time.Since(start)
	if err == nil {
		t.Fatal("no error")
	}
	if d > timeout+10*time.Second {
		t.Errorf("failed after %s; timeout %s", d, timeout)
	}
	msg := err.Error()
	ok := false
	for _, w := range strings.Split(want, "|") {
		ok = ok || strings.Contains(msg, w)
	}
	if !ok {
		t.Errorf("reason %q; want one of %q", msg, want)
	}
	if len(msg) > 200 {
		t.Errorf("reason is %d bytes long: %.200s...", len(msg), msg)
	}
	t.Logf("%s after %s", msg, d.Round(time.Millisecond))
}

// hostileTimeout is the source timeout for a hostile case: 300 ms where
// the timeout is what the case tests, and otherwise one only a hang
// reaches, so that on a loaded machine the limit, the redirects or the
// parse error under test end the read, not the clock.
func hostileTimeout(want string) time.Duration {
	if strings.HasPrefix(want, "timeout") {
		return 300 * time.Millisecond
	}
	return 30 * time.Second
}

func TestScrapeHostileServers(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"hang", "timeout after 300ms"},
		{"stall-body", "timeout after 300ms"},
		{"1GB", "body larger than 1MiB"},
		{"loop", "stopped after 10 redirects"},
		{"json", "parse error"},
		{"html", "parse error"},
		{"protobuf", "parse error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, sent := hostile(t, tc.name)
			timeout := hostileTimeout(tc.want)
			src := scrapeSource(url)
			// As a rule file's source: redirects followed.
			src.Config.(*rules.ScrapeConfig).HTTP = config.DefaultHTTPClientConfig
			src.Timeout = timeout
			src.Config.(*rules.ScrapeConfig).BodyLimit = 1 << 20
			s := newScrapeT(t, src)
			checkHostileRead(t, timeout, tc.want, func() error {
				_, err := s.Read(context.Background(), []*rules.Metric{metric(t, "m", `jobs_queue_depth{queue="default"}`)})
				return err
			})
			if tc.name == "hang" || tc.name == "stall-body" {
				var te *sample.TimeoutError
				if _, err := s.Read(context.Background(), nil); err == nil || !errors.As(err, &te) {
					t.Errorf("%v is not a *sample.TimeoutError", err)
				}
			}
			// The socket buffers hold a few MiB; the reader must not
			// have consumed anything near the gigabyte.
			if n := sent.Load(); n > 64<<20 {
				t.Errorf("the 1 GB server wrote %d MiB: the reader did not stop at its limit", n>>20)
			}
		})
	}
}

func TestPromQLHostileServers(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"hang", "timeout after 300ms"},
		{"stall-body", "timeout after 300ms"},
		// The Prometheus client reads a whole response into memory before
		// parsing it: the source caps it at 16 MiB.
		{"1GB", "response larger than 16MiB"},
		{"loop", "stopped after 10 redirects"},
		{"json", "bad_response|unexpected end|EOF"},
		{"html", "not a Prometheus API response: got text/html (HTTP 200) from http://127.0.0.1:"},
		{"protobuf", "bad_response|invalid character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, sent := hostile(t, tc.name)
			timeout := hostileTimeout(tc.want)
			p := newPromQLT(t, url, timeout)
			checkHostileRead(t, timeout, tc.want, func() error {
				_, err := p.Read(context.Background(), []*rules.Metric{promMetric("a", "up", ""), promMetric("b", "up", "")})
				return err
			})
			// Two queries of 16 MiB, plus the socket buffers.
			if n := sent.Load(); n > 64<<20 {
				t.Errorf("the 1 GB server wrote %d MiB", n>>20)
			}
		})
	}
}
