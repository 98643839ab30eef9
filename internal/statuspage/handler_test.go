package statuspage

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Hostile strings as a rule file or a scraped label could carry them.
const (
	hostileRule  = `<script>alert("rule")</script>`
	hostileLabel = `"><img src=x onerror=alert(1)>`
)

// testPage returns a page with two services, hostile names in every field
// that comes from a rule file or a label, rules rules in the default
// service and two in the other, and as many metrics as rules.
func testPage(now time.Time, rules int) *Page {
	p := &Page{
		Now: now, RulesFile: "/etc/agent/" + hostileRule + ".yaml", RulesHash: "0123456789abcdef",
		EvaluatedAt: now.Add(-time.Second),
		Reload:      Reload{OK: false, Time: now, SuccessTime: now.Add(-time.Hour), Errors: []string{"rules.yaml:3:4: " + hostileRule}},
		Sources: []Source{
			{Name: "host", Kind: "host", Up: true, Duration: time.Millisecond, LastSuccess: now},
			{Name: "app", Kind: "scrape", Up: false, Duration: time.Second, LastError: "several series match {q=" + hostileLabel + "}", LastErrorTime: now},
		},
		Overrides:    []Override{{ID: "abc123", Service: "worker", Action: "drain", Reason: "ticket " + hostileLabel, Created: now, Expires: now.Add(time.Hour)}},
		ServiceNames: []string{"default", "worker"},
	}
	for s, name := range []string{"default", "worker"} {
		tg := Target{Kind: "service", Name: name, Reply: "up drain 100% #" + hostileRule, Out: s == 0,
			Reason: "draining because " + hostileRule + " for 2m", WeightKey: WeightKey("service", name),
			Facts: []Fact{{Name: "phase", Value: "restore " + hostileLabel}}}
		n := rules
		if s > 0 {
			n = 2
		}
		for i := range n {
			tg.Rules = append(tg.Rules, Rule{
				Name: fmt.Sprintf("rule-%d %s", i, hostileRule), Expr: fmt.Sprintf("queue_depth > %d", i), Action: "drain",
				Result: "true", State: "firing", Since: now.Add(-2 * time.Minute),
				Values: []Value{{Name: "queue_depth", Value: 600}, {Name: "cpu", Missing: "source app down: " + hostileLabel}},
			})
		}
		p.Targets = append(p.Targets, tg)
	}
	for i := range rules {
		p.Metrics = append(p.Metrics, Metric{Name: fmt.Sprintf("metric_%d", i), Source: "app", Query: `jobs{queue="` + hostileLabel + `"}`, Value: float64(i)})
	}
	return p
}

// fullHistory returns a History with an hour of values for every metric
// and weight of p, and 50 changes.
func fullHistory(p *Page) *History {
	h := NewHistory(MinStep)
	var samples []Sample
	for _, m := range p.Metrics {
		samples = append(samples, Sample{Key: MetricKey(m.Name)})
	}
	for _, tg := range p.Targets {
		samples = append(samples, Sample{Key: tg.WeightKey})
	}
	for c := range h.points() {
		for i := range samples {
			samples[i].Value = float64((c*7 + i) % 100)
		}
		h.Record(p.Now.Add(-Window+time.Duration(c+1)*MinStep), samples)
	}
	for i := range MaxChanges {
		h.AddChange(Change{Time: p.Now.Add(-time.Duration(i) * time.Minute), Target: "default", From: "up ready 100%",
			To: "up drain 100% #" + hostileRule, Why: hostileLabel})
	}
	return h
}

// fakeOverrides records what the forms asked for.
type fakeOverrides struct {
	mu      sync.Mutex
	added   []AddRequest
	removed []string
	cleared int
	err     error
}

func (f *fakeOverrides) Add(_ context.Context, r AddRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.added = append(f.added, r)
	return nil
}

func (f *fakeOverrides) Remove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, id)
	return f.err
}

func (f *fakeOverrides) Clear(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleared++
	return f.err
}

func serve(t *testing.T, p *Page, ov Overrides) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	o := Options{Page: func(string) *Page { return p }, History: fullHistory(p)}
	if ov != nil {
		o.Overrides = ov
	}
	New(o).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPageEscapesRuleFilesAndLabels(t *testing.T) {
	srv := serve(t, testPage(t0, 3), &fakeOverrides{})
	resp, body := get(t, srv.URL+"/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, bad := range []string{"<script", "<img"} {
		if strings.Contains(body, bad) {
			i := strings.Index(body, bad)
			t.Errorf("page carries raw %q: ...%s...", bad, body[max(0, i-80):min(len(body), i+80)])
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(&#34;rule&#34;)&lt;/script&gt;", // rule names, reply, reason, file, errors
		"&lt;img src=x onerror=alert(1)&gt;",                 // label values
		"rule-2 &lt;script&gt;",
		`<svg class="plot"`,
		"The last reload failed",
		"DOWN",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	resp, css := get(t, srv.URL+"/static/page.css")
	if resp.StatusCode != 200 || !strings.Contains(css, "svg.plot") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("GET /static/page.css = %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
}

func TestFormsOnlyWithLifecycle(t *testing.T) {
	srv := serve(t, testPage(t0, 1), nil)
	_, body := get(t, srv.URL+"/")
	if strings.Contains(body, "<form") || strings.Contains(body, "<button") {
		t.Error("forms shown without lifecycle")
	}
	if !strings.Contains(body, "--web.enable-lifecycle") || !strings.Contains(body, "abc123") {
		t.Error("without lifecycle the page must still list the overrides and say how to enable the forms")
	}
	for _, path := range []string{"/ui/overrides", "/ui/overrides/clear"} {
		resp, err := http.PostForm(srv.URL+path, url.Values{"action": {"drain"}, "reason": {"x"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 == 2 || resp.StatusCode/100 == 3 {
			t.Errorf("POST %s without lifecycle = %s", path, resp.Status)
		}
	}

	srv = serve(t, testPage(t0, 1), &fakeOverrides{})
	_, body = get(t, srv.URL+"/")
	for _, want := range []string{`id="add-override"`, `id="clear-all"`, `name="id" value="abc123"`, `<option>worker</option>`} {
		if !strings.Contains(body, want) {
			t.Errorf("with lifecycle the page lacks %s", want)
		}
	}
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func post(t *testing.T, u string, form url.Values, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestFormsAddAndClear(t *testing.T) {
	ov := &fakeOverrides{}
	srv := serve(t, testPage(t0, 1), ov)
	sameOrigin := map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": srv.URL}

	resp, _ := post(t, srv.URL+"/ui/overrides", url.Values{"action": {"weight"}, "weight": {"10"}, "service": {"worker"}, "reason": {"canary"}, "ttl": {"30m"}}, sameOrigin)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "../#overrides" {
		t.Errorf("add = %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, _ = post(t, srv.URL+"/ui/overrides/clear", url.Values{"id": {"abc123"}}, sameOrigin)
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("clear one = %s", resp.Status)
	}
	resp, _ = post(t, srv.URL+"/ui/overrides/clear", nil, nil) // no browser headers: curl
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("clear all = %s", resp.Status)
	}
	want := AddRequest{Action: "weight 10%", Service: "worker", Reason: "canary", TTL: "30m"}
	if len(ov.added) != 1 || ov.added[0] != want || len(ov.removed) != 1 || ov.removed[0] != "abc123" || ov.cleared != 1 {
		t.Errorf("added %+v, removed %v, cleared %d", ov.added, ov.removed, ov.cleared)
	}

	resp, body := post(t, srv.URL+"/ui/overrides", url.Values{"action": {"weight"}, "weight": {"lots"}, "reason": {"x"}}, sameOrigin)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "whole percent") {
		t.Errorf("a bad weight = %s", resp.Status)
	}
	ov.err = errors.New("reason " + hostileRule + " is not printable")
	resp, body = post(t, srv.URL+"/ui/overrides", url.Values{"action": {"drain"}, "reason": {"x"}}, sameOrigin)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "override not added: reason &lt;script&gt;") || strings.Contains(body, "<script") {
		t.Errorf("a refused override = %s; the page must show the escaped error", resp.Status)
	}
}

func TestFormsRefuseCrossSiteRequests(t *testing.T) {
	ov := &fakeOverrides{}
	srv := serve(t, testPage(t0, 1), ov)
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "http://evil.example"},
	} {
		for _, path := range []string{"/ui/overrides", "/ui/overrides/clear"} {
			resp, _ := post(t, srv.URL+path, url.Values{"action": {"drain"}, "reason": {"x"}}, hdr)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with %v = %s, want 403", path, hdr, resp.Status)
			}
		}
	}
	resp, _ := get(t, srv.URL+"/ui/overrides?action=drain&reason=x")
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /ui/overrides = %s, want 405", resp.Status)
	}
	if len(ov.added) != 0 || ov.cleared != 0 || len(ov.removed) != 0 {
		t.Errorf("a refused request changed overrides: %+v", ov)
	}
}

// TestPageCache: a page loaded in a loop is rendered once a second, and a
// form's change shows at the next load.
func TestPageCache(t *testing.T) {
	p := testPage(t0, 1)
	var builds atomic.Int64
	ov := &fakeOverrides{}
	mux := http.NewServeMux()
	New(Options{Page: func(string) *Page { builds.Add(1); return p }, History: fullHistory(p), Overrides: ov}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for range 20 {
		get(t, srv.URL+"/")
	}
	if n := builds.Load(); n != 1 {
		t.Errorf("20 loads within a second built the page %d times, want 1", n)
	}
	post(t, srv.URL+"/ui/overrides/clear", nil, nil)
	get(t, srv.URL+"/")
	if n := builds.Load(); n != 2 {
		t.Errorf("the load after a change was served from the cache (%d builds)", n)
	}
	time.Sleep(cacheFor + 50*time.Millisecond)
	get(t, srv.URL+"/")
	if n := builds.Load(); n != 3 {
		t.Errorf("a load after %s was served from the cache (%d builds)", cacheFor, n)
	}
}

func TestPageGzip(t *testing.T) {
	srv := serve(t, testPage(t0, 3), nil)
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	for _, gz := range []bool{true, false} {
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		if gz {
			req.Header.Set("Accept-Encoding", "br, gzip;q=0.8")
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = resp.Body
		if got := resp.Header.Get("Content-Encoding") == "gzip"; got != gz {
			t.Errorf("asked for gzip %v, got Content-Encoding %q", gz, resp.Header.Get("Content-Encoding"))
		} else if gz {
			if body, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		}
		b, _ := io.ReadAll(body)
		resp.Body.Close()
		if !strings.Contains(string(b), "rule-2 &lt;script&gt;") {
			t.Errorf("gzip %v: the page is not there", gz)
		}
	}
}

// TestFleetMetricByServer: a metric read by server (fleet mode) shows as
// such, not as the 0 its unused Value holds.
func TestFleetMetricByServer(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	p := testPage(now, 1)
	p.Metrics = append(p.Metrics, Metric{Name: "queue_by_server", Source: "prom", Query: "sum by (server) (q)", Servers: 4})
	_, body := get(t, serve(t, p, nil).URL+"/")
	if !strings.Contains(body, `<span class="metric-name">queue_by_server</span> <span class="now">by server (4 values)</span>`) {
		t.Errorf("the by-server metric's row does not say so:\n%s", body)
	}
}
