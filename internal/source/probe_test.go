package source

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/config"

	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

// probeSource is an http source of url with the defaults the rule file
// parser sets.
func probeSource(url string, timeout time.Duration) *rules.Source {
	return &rules.Source{Name: "app", Kind: rules.KindHTTP, Timeout: timeout, Config: &rules.HTTPConfig{URL: url}}
}

// newProbeT builds the probe of src with the request and fields of cfg.
func newProbeT(t testing.TB, src *rules.Source, cfg *rules.HTTPConfig) *probe {
	t.Helper()
	c := src.Config.(*rules.HTTPConfig)
	cfg.URL = c.URL
	if cfg.Method == "" {
		cfg.Method = http.MethodGet
	}
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = rules.DefaultProbeBodyLimit
	}
	if !cfg.HTTP.EnableHTTP2 { // not set by the test: the parser's defaults
		cfg.HTTP = config.DefaultHTTPClientConfig
	}
	src.Config = cfg
	p, err := newProbe(src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// readProbe reads p as the collector does: within the source's timeout.
func readProbe(t testing.TB, p *probe, ms []*rules.Metric) []sample.Reading {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	rs, err := p.Read(ctx, ms)
	if err != nil {
		t.Fatalf("a probe's read never fails as a whole, got %v", err)
	}
	// The collector waits that long for the outcome: a probe that took
	// longer would hang the cycle.
	if late := time.Since(deadline); late > p.ResultGrace() {
		t.Fatalf("the probe returned %s after its read's deadline", late)
	}
	return rs
}

func probeMetrics(t testing.TB, names ...string) []*rules.Metric {
	ms := make([]*rules.Metric, len(names))
	for i, n := range names {
		ms[i] = metric(t, n, n)
	}
	return ms
}

// TestProbeFlips probes a real server on 127.0.0.1 that answers 200, then
// 503, then too slowly, then not at all (refused): success is a value
// each time, 1 then 0, and status_code is missing exactly when no
// response came.
func TestProbeFlips(t *testing.T) {
	var mode atomic.Value
	mode.Store("ok")
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch mode.Load() {
		case "ok":
			_, _ = io.WriteString(w, `{"replication": {"lag_seconds": 4.5, "ok": true}}`)
		case "unavailable":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"replication": {"lag_seconds": 90, "ok": false}}`)
		case "slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	defer close(release)
	p := newProbeT(t, probeSource(srv.URL+"/healthz", 300*time.Millisecond), &rules.HTTPConfig{
		JSON: []rules.JSONField{{Name: "lag", Path: "replication.lag_seconds"}, {Name: "repl_ok", Path: "replication.ok"}},
	})
	ms := probeMetrics(t, "success", "status_code", "duration_seconds", "lag", "repl_ok")

	type want struct {
		success, status, lag, ok float64
		statusMissing            string // substring of the reason, "" when present
	}
	check := func(step string, w want) {
		t.Helper()
		rs := readProbe(t, p, ms)
		if rs[0].Err != nil || rs[0].Value != w.success {
			t.Errorf("%s: success = %v (%v), want %v", step, rs[0].Value, rs[0].Err, w.success)
		}
		if rs[2].Err != nil || rs[2].Value <= 0 {
			t.Errorf("%s: duration_seconds = %v (%v), want a positive value", step, rs[2].Value, rs[2].Err)
		}
		if w.statusMissing != "" {
			for _, i := range []int{1, 3, 4} {
				if rs[i].Err == nil || !strings.Contains(rs[i].Err.Error(), w.statusMissing) {
					t.Errorf("%s: %s = %v, %v; want missing with %q", step, ms[i].Name, rs[i].Value, rs[i].Err, w.statusMissing)
				}
			}
			return
		}
		for i, v := range map[int]float64{1: w.status, 3: w.lag, 4: w.ok} {
			if rs[i].Err != nil || rs[i].Value != v {
				t.Errorf("%s: %s = %v (%v), want %v", step, ms[i].Name, rs[i].Value, rs[i].Err, v)
			}
		}
	}
	check("200", want{success: 1, status: 200, lag: 4.5, ok: 1})
	mode.Store("unavailable")
	check("503", want{success: 0, status: 503, lag: 90, ok: 0})
	mode.Store("ok")
	check("200 again", want{success: 1, status: 200, lag: 4.5, ok: 1})
	mode.Store("slow")
	check("slow", want{success: 0, statusMissing: "no response: timeout after 300ms"})
	srv.CloseClientConnections()
	srv.Listener.Close()
	check("refused", want{success: 0, statusMissing: "no response: connection refused"})
}

// TestProbeValidStatusCodes: valid_status_codes replaces "any 2xx".
func TestProbeValidStatusCodes(t *testing.T) {
	var code atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	p := newProbeT(t, probeSource(srv.URL, time.Second), &rules.HTTPConfig{ValidStatusCodes: []int{200, 429}})
	ms := probeMetrics(t, "success")
	for _, c := range []struct {
		code int32
		want float64
	}{{200, 1}, {429, 1}, {204, 0}, {500, 0}} {
		code.Store(c.code)
		if rs := readProbe(t, p, ms); rs[0].Err != nil || rs[0].Value != c.want {
			t.Errorf("status %d: success = %v (%v), want %v", c.code, rs[0].Value, rs[0].Err, c.want)
		}
	}
}

// TestProbeRequest: the method, headers (Host included) and body are
// sent as configured, and redirects are followed as Prometheus' client
// follows them (follow_redirects, on by default).
func TestProbeRequest(t *testing.T) {
	type seen struct{ method, host, header, body, path string }
	got := make(chan seen, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusFound)
			return
		}
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.Host, r.Header.Get("X-Probe"), string(b), r.URL.Path}
	}))
	defer srv.Close()
	h := http.Header{}
	h.Set("X-Probe", "agent")
	h.Set("Host", "svc.example")
	p := newProbeT(t, probeSource(srv.URL+"/health", time.Second), &rules.HTTPConfig{Method: http.MethodPost, Headers: h, Body: `{"deep": true}`})
	readProbe(t, p, probeMetrics(t, "success"))
	if s := <-got; s != (seen{"POST", "svc.example", "agent", `{"deep": true}`, "/health"}) {
		t.Errorf("request = %+v", s)
	}

	redirect := newProbeT(t, probeSource(srv.URL+"/old", time.Second), &rules.HTTPConfig{})
	rs := readProbe(t, redirect, probeMetrics(t, "success", "status_code"))
	if s := <-got; s.path != "/new" || rs[0].Value != 1 || rs[1].Value != 200 {
		t.Errorf("redirect: served %q, success %v, status %v; want /new, 1, 200", s.path, rs[0].Value, rs[1].Value)
	}
	noFollowCfg := &rules.HTTPConfig{HTTP: config.DefaultHTTPClientConfig}
	noFollowCfg.HTTP.FollowRedirects = false
	noFollow := newProbeT(t, probeSource(srv.URL+"/old", time.Second), noFollowCfg)
	rs = readProbe(t, noFollow, probeMetrics(t, "success", "status_code"))
	if rs[0].Value != 0 || rs[1].Value != 302 {
		t.Errorf("follow_redirects: false: success %v, status %v; want 0, 302", rs[0].Value, rs[1].Value)
	}
}

// TestProbeHostileBodies: bodies that are huge, nested deep, not JSON, or
// hold something other than a number where the path points leave the
// field missing with the reason, and never fail the probe: success still
// says what the status said.
func TestProbeHostileBodies(t *testing.T) {
	huge := `{"lag": 1, "pad": "` + strings.Repeat("x", 3<<20) + `"}`
	cases := []struct {
		name, body, path, want string
		value                  float64
	}{
		{"huge", huge, "lag", "body larger than 1MiB (body_limit)", 0},
		{"deep", strings.Repeat("[", 100000) + strings.Repeat("]", 100000), "0", "nested deeper than 64 levels", 0},
		{"deep object", strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65), "a", "nested deeper than 64 levels", 0},
		{"not json", "OK\n", "lag", "body is not valid JSON", 0},
		{"html", "<html><body>lag: 3</body></html>", "lag", "body is not valid JSON", 0},
		{"truncated", `{"lag": 3`, "lag", "body is not valid JSON", 0},
		{"empty", "", "lag", "body is empty", 0},
		{"binary", "\x00\x01\x02{", "lag", "not valid JSON", 0},
		{"no match", `{"replication": {}}`, "replication.lag", "matches nothing", 0},
		{"string", `{"lag": "3"}`, "lag", "is a string, not a number", 0},
		{"null", `{"lag": null}`, "lag", "is null", 0},
		{"object", `{"lag": {"s": 3}}`, "lag", "an object or a list", 0},
		{"escaped brackets in strings", `{"s": "[[[[[[[[[[\"{{{{{{{{{{{{", "lag": 7}`, "lag", "", 7},
		{"array index", `{"replicas": [{"lag": 1}, {"lag": 2.5}]}`, "replicas.1.lag", "", 2.5},
		{"false", `{"ok": false}`, "ok", "", 0},
		{"exponent", `{"lag": 1e3}`, "lag", "", 1000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, c.body)
			}))
			defer srv.Close()
			p := newProbeT(t, probeSource(srv.URL, 2*time.Second), &rules.HTTPConfig{JSON: []rules.JSONField{{Name: "field", Path: c.path}}})
			rs := readProbe(t, p, probeMetrics(t, "success", "field"))
			if rs[0].Err != nil || rs[0].Value != 1 {
				t.Errorf("success = %v (%v), want 1: the status was 200", rs[0].Value, rs[0].Err)
			}
			switch {
			case c.want == "" && (rs[1].Err != nil || rs[1].Value != c.value):
				t.Errorf("field = %v (%v), want %v", rs[1].Value, rs[1].Err, c.value)
			case c.want != "" && (rs[1].Err == nil || !strings.Contains(rs[1].Err.Error(), c.want)):
				t.Errorf("field = %v (%v), want missing with %q", rs[1].Value, rs[1].Err, c.want)
			}
		})
	}
}

// TestProbeBodyNotReadWithoutJSON: without json fields the body is not
// read, so an endless body costs nothing and the probe still succeeds
// (reading it would run into the timeout: success 0).
func TestProbeBodyNotReadWithoutJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	p := newProbeT(t, probeSource(srv.URL, time.Second), &rules.HTTPConfig{})
	rs := readProbe(t, p, probeMetrics(t, "success"))
	if rs[0].Value != 1 {
		t.Errorf("success = %v, want 1", rs[0].Value)
	}
}

// TestProbeSeriesSelectors: the probe's series go through the same
// selection as a scraped page's: a selector by regular expression, and
// an aggregate over them.
func TestProbeSeriesSelectors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"a": 2, "b": 3}`)
	}))
	defer srv.Close()
	p := newProbeT(t, probeSource(srv.URL, time.Second), &rules.HTTPConfig{JSON: []rules.JSONField{{Name: "lag_a", Path: "a"}, {Name: "lag_b", Path: "b"}}})
	ms := []*rules.Metric{withAgg(metric(t, "lag", `{__name__=~"lag_.*"}`), rules.AggMax), metric(t, "any", `{__name__=~"lag_.*"}`)}
	rs := readProbe(t, p, ms)
	if rs[0].Err != nil || rs[0].Value != 3 {
		t.Errorf("max over lag_* = %v (%v), want 3", rs[0].Value, rs[0].Err)
	}
	if rs[1].Err == nil || !strings.Contains(rs[1].Err.Error(), "2 series matched; set aggregate") {
		t.Errorf("two series without aggregate = %v (%v), want missing", rs[1].Value, rs[1].Err)
	}
}

// TestProbeUnreachableHost: a host that does not answer at all (nothing
// listens, the connection is never accepted) is success 0 before the
// read's deadline.
func TestProbeUnreachableHost(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// A listener that never accepts: connections queue in the backlog and
	// the request waits for an answer that never comes.
	p := newProbeT(t, probeSource(fmt.Sprintf("http://%s/", l.Addr()), 200*time.Millisecond), &rules.HTTPConfig{})
	rs := readProbe(t, p, probeMetrics(t, "success", "status_code"))
	if rs[0].Value != 0 || rs[1].Err == nil {
		t.Errorf("success = %v, status_code = %v (%v); want 0 and missing", rs[0].Value, rs[1].Value, rs[1].Err)
	}
}
