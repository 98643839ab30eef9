package statuspage

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/testutil"
	"github.com/haproxy-agent/agent/rules"
)

// demoPage is a status page as an agent with two services shows it after
// an hour: the worker drained for a while by a deep queue, with charts of
// every metric and their rules' thresholds.
func demoPage(now time.Time) (*Page, *History) {
	h := NewHistory(MinStep)
	p := &Page{
		Now: now, Host: "lb1.example.net", RulesFile: "/etc/haproxy-agent/rules.yaml", RulesHash: "9f86d081884c7d65",
		EvaluatedAt: now.Add(-2 * time.Second), Reload: Reload{OK: true, Time: now.Add(-3 * time.Hour), SuccessTime: now.Add(-3 * time.Hour)},
		Sources: []Source{
			{Name: "host", Kind: "host", Up: true, Duration: 300 * time.Microsecond, LastSuccess: now.Add(-2 * time.Second)},
			{Name: "app", Kind: "scrape", Up: true, Duration: 4 * time.Millisecond, LastSuccess: now.Add(-2 * time.Second),
				LastError: "Get \"http://127.0.0.1:9100/metrics\": context deadline exceeded", LastErrorTime: now.Add(-41 * time.Minute)},
		},
		Overrides:    []Override{{ID: "7f3a9c", Service: "worker", Action: "weight 50%", Reason: "CHG-1234 canary of the new build", Created: now.Add(-10 * time.Minute), Expires: now.Add(50 * time.Minute)}},
		ServiceNames: []string{"default", "worker"},
	}
	p.Targets = []Target{
		{Kind: "service", Name: "default", Reply: "up ready 100%", Reason: "in rotation: no rule fires", State: StateIn,
			WeightKey: WeightKey("service", "default"), StateKey: StateKey("service", "default"),
			Rules: []Rule{
				{Name: "cpu > 0.9", Expr: "cpu > 0.9", Action: "drain", Result: "false", State: "inactive", Values: []Value{{Name: "cpu", Value: 0.41}}},
				{Name: "errors", Expr: "error_ratio > 0.05", Action: "weight 25%", Result: "false", State: "inactive", Values: []Value{{Name: "error_ratio", Value: 0.0021}}},
			}},
		{Kind: "service", Name: "worker", Reply: "up drain 100% #the job queue is deeper than the workers can take in two minutes, so new work goes elsewhere until it drains",
			Reason: "draining because deep-queue (queue_depth > 500) for 6m; operator override \"CHG-1234 canary of the new build\" (weight 50%, ends in 50m)",
			State:  StateDraining, Out: true, WeightKey: WeightKey("service", "worker"), StateKey: StateKey("service", "worker"),
			Facts: []Fact{{Name: "phase", Value: "acting: the reply carries the admin word and the weight"}},
			Rules: []Rule{
				{Name: "deep-queue", Expr: "queue_depth > 500", Action: "drain", Result: "true", State: "firing", Since: now.Add(-6 * time.Minute), Values: []Value{{Name: "queue_depth", Value: 644}}},
				{Name: "busy", Expr: "cpu > 0.8 && load1 > 6", Action: "weight 50%", Result: "false", State: "inactive", Values: []Value{{Name: "cpu", Value: 0.41}, {Name: "load1", Value: 3.2}}},
			}},
	}
	p.Metrics = []Metric{
		{Name: "cpu", Source: "host", Query: "cpu", Value: 0.41, Thresholds: []Threshold{{Value: 0.8, Rules: []string{"cpu > 0.8 → weight 50% (rule busy)"}}, {Value: 0.9, Rules: []string{"cpu > 0.9 → drain"}}}},
		{Name: "queue_depth", Source: "app", Query: `jobs{queue="render"}`, Value: 644, Thresholds: []Threshold{{Value: 500, Rules: []string{"queue_depth > 500 → drain (rule deep-queue)"}}}},
		{Name: "error_ratio", Source: "app", Query: "errors_total / requests_total", Value: 0.0021, Thresholds: []Threshold{{Value: 0.05, Rules: []string{"error_ratio > 0.05 → weight 25% (rule errors)"}}}},
		{Name: "load1", Source: "host", Query: "load1", Value: 3.2, Thresholds: []Threshold{{Value: 6, Rules: []string{"load1 > 6 → weight 50% (rule busy)"}}}},
	}
	n := h.points()
	for i := range n {
		t := now.Add(-Window + time.Duration(i+1)*MinStep)
		x := float64(i) / float64(n)
		queue := 120 + 80*math.Sin(x*9) + 30*math.Sin(float64(i)*1.7)
		if x > 0.45 && x < 0.62 || x > 0.9 {
			queue += 480
		}
		workerState, workerWeight := float64(StateIn), 100.0
		if x > 0.47 && x < 0.63 || x > 0.92 {
			workerState = float64(StateDraining)
		}
		if x > 0.83 {
			workerWeight = 50
		}
		h.Record(t, []Sample{
			{MetricKey("cpu"), 0.35 + 0.1*math.Sin(x*20) + 0.03*math.Sin(float64(i)*2.3)},
			{MetricKey("queue_depth"), math.Round(queue)},
			{MetricKey("error_ratio"), 0.002 + 0.0005*math.Sin(float64(i))},
			{MetricKey("load1"), 3 + 1.5*math.Sin(x*7)},
			{WeightKey("service", "default"), 100},
			{StateKey("service", "default"), float64(StateIn)},
			{WeightKey("service", "worker"), workerWeight},
			{StateKey("service", "worker"), workerState},
		})
	}
	h.AddChange(Change{Time: now.Add(-6 * time.Minute), Target: "worker", From: "up ready 50%", To: "up drain 50% #deep-queue", Why: "deep-queue"})
	h.AddChange(Change{Time: now.Add(-10 * time.Minute), Target: "worker", From: "up ready 100%", To: "up ready 50%", Why: "override: CHG-1234 canary of the new build"})
	return p, h
}

// demoFleet is a fleet page of 40 servers with web07 asked for.
func demoFleet(now time.Time) (*Page, *History) {
	p, h := demoPage(now)
	var ds []*evaluator.Decision
	for i := range 40 {
		d := &evaluator.Decision{Service: "default", Server: fmt.Sprintf("web%02d", i), Op: rules.Up, Admin: rules.Ready, Weight: 100, Reply: "up ready 100%\n",
			Rules: []evaluator.RuleResult{{RuleText: &evaluator.RuleText{Name: "queue_depth > 500", Expr: "queue_depth > 500", Action: "drain"},
				Outcome: evaluator.False, State: evaluator.Inactive,
				Values: []evaluator.Value{{Name: "queue_depth", Value: float64(37 * i % 400)}}}}}
		switch i {
		case 7, 21:
			d.Admin, d.Reply = rules.Drain, "up drain 100% #queue_depth > 500\n"
			d.Rules[0].Outcome, d.Rules[0].State, d.Rules[0].ActiveSince = evaluator.True, evaluator.Firing, now.Add(-time.Duration(i)*time.Minute)
			d.Rules[0].Values[0].Value = 700
		case 30:
			d.Op, d.Reply = rules.Down, "down #override: disk swap\n"
		case 33:
			d.Held, d.Reply = true, "up ready 100% #held by guardrail (3 of 40 out); queue_depth > 500\n"
			d.Rules[0].Outcome, d.Rules[0].State, d.Rules[0].ActiveSince = evaluator.True, evaluator.Firing, now.Add(-2*time.Minute)
		}
		ds = append(ds, d)
	}
	g := &evaluator.Guardrail{MaxUnavailable: "3", Allowed: 3, Servers: 40, Out: 3, Held: []string{"web33"}}
	p.Fleet = NewFleet(ds, g, now, func(name string) (time.Time, bool, bool) {
		switch name {
		case "web07":
			return now.Add(-7 * time.Minute), false, true
		case "web21":
			return now.Add(-21 * time.Minute), false, true
		}
		return now.Add(-3 * time.Hour), true, true
	})
	p.Targets = []Target{FromDecision("server", ds[7], now)}
	p.Targets[0].Name, p.Targets[0].WeightKey, p.Targets[0].StateKey = "web07", "", ""
	p.Asked, p.ServiceNames = "web07", []string{"web07"}
	p.Metrics = p.Metrics[:2]
	// Read by server: each server's rules show its value; no chart.
	p.Metrics[1] = Metric{Name: "queue", Source: "prom", Query: "sum by (server) (jobs_queue_depth)", Servers: 40,
		Thresholds: []Threshold{{Value: 500, Rules: []string{"queue_depth > 500 → drain"}}}}
	return p, h
}

// layout is what the browser measured of a page.
type layout struct {
	ScrollWidth  int        `json:"scrollWidth"`
	Title        string     `json:"title"`
	Host         string     `json:"host"`
	XLabels      []string   `json:"xLabels"`
	YLabels      [][]string `json:"yLabels"`
	Plots        int        `json:"plots"`
	Framed       int        `json:"framed"`
	Thresholds   int        `json:"thresholds"`
	Drains       int        `json:"drains"`
	Wide         []string   `json:"wide"`
	ReplyLines   int        `json:"replyLines"`
	MidWord      []string   `json:"midWord"`
	Placeholders []struct {
		Name  string  `json:"name"`
		Text  float64 `json:"text"`
		Inner float64 `json:"inner"`
	} `json:"placeholders"`
}

// measure reads the layout of the page in tab: widths, chart labels, where
// the long reply's lines break, and whether placeholders fit their fields.
const measure = `(() => {
  const vw = document.documentElement.clientWidth;
  const out = {
    scrollWidth: document.documentElement.scrollWidth,
    title: document.title,
    host: (document.querySelector('h1 .host') || {}).textContent || '',
    xLabels: [...document.querySelectorAll('.chart .xl')].map(e => [...e.children].map(s => s.textContent).join(' ')),
    yLabels: [...document.querySelectorAll('.chart .yl')].map(e => [...e.children].map(s => s.textContent)),
    plots: document.querySelectorAll('svg.plot').length,
    framed: [...document.querySelectorAll('svg.plot')].filter(s => parseFloat(getComputedStyle(s).borderTopWidth) >= 1).length,
    thresholds: document.querySelectorAll('svg.plot path.threshold').length,
    drains: document.querySelectorAll('svg.plot path.drain').length,
    wide: [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > vw + 0.5).slice(0, 5).map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 40)),
    replyLines: 0, midWord: [], placeholders: [],
  };
  const code = [...document.querySelectorAll('.reply-line')].sort((a, b) => b.textContent.length - a.textContent.length)[0];
  if (code && code.firstChild) {
    const text = code.firstChild, r = document.createRange();
    let last = null;
    out.replyLines = 1;
    for (let i = 0; i < text.length; i++) {
      r.setStart(text, i); r.setEnd(text, i + 1);
      const rects = r.getClientRects();
      if (!rects.length || text.data[i] === ' ') continue;
      const top = rects[0].top;
      if (last !== null && top > last + 2) {
        out.replyLines++;
        if (text.data[i - 1] !== ' ') out.midWord.push(text.data.slice(Math.max(0, i - 12), i) + '|' + text.data.slice(i, i + 12));
      }
      last = top;
    }
  }
  const ctx = document.createElement('canvas').getContext('2d');
  for (const i of document.querySelectorAll('input[placeholder]')) {
    const cs = getComputedStyle(i);
    ctx.font = cs.font;
    out.placeholders.push({name: i.name, text: ctx.measureText(i.placeholder).width,
      inner: i.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)});
  }
  return out;
})()`

// TestBrowserChartsAndPhoneWidth loads a status page with an hour of
// charts in a real chromium at 1280 and at 400 pixels and measures it:
// nothing wider than the window, every chart framed and labelled on both
// axes, thresholds and drains drawn, the long reply broken at spaces
// only, the override form's placeholders inside their fields. It keeps
// screenshots as artifacts; with AGENT_DOCS_SCREENSHOTS=1 it writes them
// to docs/ too.
func TestBrowserChartsAndPhoneWidth(t *testing.T) {
	// A fixed time: the screenshots in docs/ change only when the page does.
	now := time.Date(2026, 12, 7, 14, 30, 0, 0, time.UTC)
	b := testutil.StartBrowser(t)
	for _, tc := range []struct {
		name  string
		build func(time.Time) (*Page, *History)
		path  string
		docs  map[int]string
	}{
		{"services", demoPage, "/", map[int]string{1280: "status-page.png", 400: "status-page-phone.png"}},
		{"fleet", demoFleet, "/?server=web07", map[int]string{1280: "status-page-fleet.png"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, h := tc.build(now)
			mux := http.NewServeMux()
			New(Options{Page: func(string) *Page { return p }, History: h, Overrides: &fakeOverrides{}}).Register(mux)
			srv := httptest.NewServer(mux)
			defer srv.Close()
			for _, width := range []int{1280, 400} {
				tab := b.Open(t, srv.URL+tc.path, width, 1000)
				var l layout
				tab.Eval(t, measure, &l)
				if l.ScrollWidth > width || len(l.Wide) > 0 {
					t.Errorf("%d px: the page is %d px wide; wider than the window: %q", width, l.ScrollWidth, l.Wide)
				}
				if !strings.Contains(l.Title, "lb1.example.net") || l.Host != "lb1.example.net" {
					t.Errorf("%d px: the host is not in the title %q or the heading %q", width, l.Title, l.Host)
				}
				if l.Plots == 0 || l.Framed != l.Plots || len(l.XLabels) != l.Plots || len(l.YLabels) != l.Plots {
					t.Errorf("%d px: %d charts, %d framed, %d with time labels, %d with value labels", width, l.Plots, l.Framed, len(l.XLabels), len(l.YLabels))
				}
				for _, x := range l.XLabels {
					if x != "−1h −30m −15m now" {
						t.Errorf("%d px: time labels %q", width, x)
					}
				}
				for _, y := range l.YLabels {
					if len(y) != 3 || y[0] == "" || y[2] == "" {
						t.Errorf("%d px: value labels %q", width, y)
					}
				}
				if l.Thresholds == 0 {
					t.Errorf("%d px: no threshold drawn", width)
				}
				if tc.name == "services" && l.Drains == 0 {
					t.Errorf("%d px: the worker's drains are not shaded", width)
				}
				if width == 400 && l.ReplyLines < 2 {
					t.Errorf("%d px: the long reply is on %d line", width, l.ReplyLines)
				}
				if len(l.MidWord) > 0 {
					t.Errorf("%d px: the reply breaks inside words: %q", width, l.MidWord)
				}
				for _, ph := range l.Placeholders {
					if ph.Text > ph.Inner {
						t.Errorf("%d px: the placeholder of %s is %.0f px wide in a field of %.0f", width, ph.Name, ph.Text, ph.Inner)
					}
				}
				if len(l.Placeholders) == 0 {
					t.Errorf("%d px: no field with a placeholder measured", width)
				}
				t.Logf("%d px: %+v", width, l)
				var height int
				tab.Eval(t, "document.documentElement.scrollHeight", &height)
				tab.Resize(t, width, min(height, 2400))
				file := testutil.ArtifactPath(t, fmt.Sprintf("status-page-%s-%d.png", tc.name, width))
				tab.Screenshot(t, file, false)
				if name := tc.docs[width]; name != "" && os.Getenv("AGENT_DOCS_SCREENSHOTS") != "" {
					png, err := os.ReadFile(file)
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join("..", "..", "docs", name), png, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}
