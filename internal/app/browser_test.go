package app

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haproxy-agent/agent/internal/testutil"
)

// Hostile text in a rule file and in a scraped label value: if the page
// did not escape it, the browser would build elements from it.
const browserRules = `interval: 200ms
sources:
  app:
    scrape: %s
    timeout: 150ms
metrics:
  queue_depth: app:jobs{queue="\"><img src=x onerror=alert(1)>"}
  cpu: host:cpu
rules:
  - name: <script>alert("rule")</script>
    when: queue_depth > 500
    then: drain
    description: "</td><b>bold</b>"
  - cpu > 2 => weight 50%%
services:
  worker:
    rules:
      - name: worker-deep-queue
        when: queue_depth > 100
        weight: 25
`

// TestBrowserStatusPage loads the status page in a real headless chromium
// and reads the DOM it built: the rule names and the replies are there,
// hostile rule text and label values are text, not elements, and the
// override forms exist only with --web.enable-lifecycle. It keeps
// screenshots (phone and desktop widths) as artifacts.
func TestBrowserStatusPage(t *testing.T) {
	t.Parallel()
	leakCheck(t)
	exp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE jobs gauge\njobs{queue=%q} 600\njobs{queue=\"other\"} 1\n", `"><img src=x onerror=alert(1)>`)
	}))
	t.Cleanup(exp.Close) // after the parallel subtests
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomic(t, path, fmt.Sprintf(browserRules, exp.URL))

	for _, lifecycle := range []bool{false, true} {
		t.Run(fmt.Sprintf("lifecycle=%v", lifecycle), func(t *testing.T) {
			t.Parallel()
			ag := startAgent(t, Options{RulesPath: path, EnableLifecycle: lifecycle, Logger: quietLogger()})
			waitFor(t, "the drain", func() bool {
				return strings.HasPrefix(testutil.Poll(t, ag.poll, ""), "up drain")
			})
			// One chromium for the DOM and both screenshots.
			url := "http://" + ag.web + "/"
			tab := testutil.StartBrowser(t).Open(t, url, 1280, 1400)
			var dom string
			tab.Eval(t, "document.documentElement.outerHTML", &dom)
			for _, want := range []string{
				`&lt;script&gt;alert("rule")&lt;/script&gt;`,        // the rule's name, as text
				`up drain 100% #&lt;/td&gt;&lt;b&gt;bold&lt;/b&gt;`, // the reply, with the description as text
				`&lt;img src=x onerror=alert(1)&gt;`,                // the label value, as text
				"draining because",
				"worker-deep-queue",
				"up ready 25%",
				`class="plot"`,
			} {
				if !strings.Contains(dom, want) {
					t.Errorf("the DOM lacks %s", want)
				}
			}
			for _, bad := range []string{"<script", "<img", "<b>bold"} {
				if strings.Contains(dom, bad) {
					i := strings.Index(dom, bad)
					t.Errorf("the browser built an element from hostile text %q: ...%s...", bad, dom[max(0, i-100):min(len(dom), i+100)])
				}
			}
			hasForm := strings.Contains(dom, `<form`)
			if hasForm != lifecycle || strings.Contains(dom, `id="add-override"`) != lifecycle {
				t.Errorf("with lifecycle %v the page has forms: %v", lifecycle, hasForm)
			}
			if t.Failed() {
				t.Logf("DOM:\n%s", dom)
			}

			for _, shot := range []struct {
				name          string
				width, height int
			}{{"phone", 400, 1600}, {"desktop", 1280, 1400}} {
				file := testutil.ArtifactPath(t, fmt.Sprintf("status-page-%s-lifecycle-%v.png", shot.name, lifecycle))
				os.Remove(file)
				tab.Resize(t, shot.width, shot.height)
				tab.Load(t, url) // laid out at that width from the start
				tab.Screenshot(t, file, false)
				png, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("no screenshot: %v", err)
				}
				if !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 10000 {
					t.Errorf("%s is not a screenshot of a page (%d bytes)", file, len(png))
				}
			}
		})
	}
}

// TestBrowserFleetSummary serves a fleet of 30 servers from a real agent
// and reads, in a real chromium, the summary's counts, follows its
// "draining" link and a server's link, and checks that at 400 pixels
// nothing is wider than the window. It keeps screenshots at 1280 and 400
// pixels as artifacts.
func TestBrowserFleetSummary(t *testing.T) {
	t.Parallel()
	leakCheck(t)
	prom := newFakeProm(t)
	up, queue := map[string]float64{}, map[string]float64{}
	for i := range 30 {
		name := fmt.Sprintf("web%02d", i)
		up[name], queue[name] = 1, float64(i*10)
	}
	// Two deep queues: with max_unavailable 1 one drains, one is held.
	queue["web05"], queue["web17"] = 900, 800
	prom.set(`up{job="web"}`, up)
	prom.set("jobs_queue_depth", queue)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	// The page is what is tested, not reads against a deadline: a timeout
	// that a loaded machine does not reach (the fake Prometheus answers in
	// this process, beside other tests).
	rules := strings.NewReplacer("interval: 100ms", "interval: 1s", "timeout: 90ms", "timeout: 900ms").Replace(fleetRules)
	writeAtomic(t, path, fmt.Sprintf(rules, prom.srv.URL))
	ag := startAgent(t, Options{RulesPath: path, EnableLifecycle: true, Logger: quietLogger()})
	waitFor(t, "one server held", func() bool {
		return strings.Contains(ag.get(t, "/status"), `"held": [`+"\n"+`      "web`)
	})
	b := testutil.StartBrowser(t)
	base := "http://" + ag.web + "/"
	for _, width := range []int{1280, 400} {
		tab := b.Open(t, base, width, 900)
		var summary struct {
			In, Held, Draining, Out, Rows, ScrollWidth int
			Title, DrainingHref                        string
		}
		tab.Eval(t, `(() => {
			const n = id => parseInt((document.querySelector('#count-' + id + ' b') || {}).textContent || '-1');
			return {In: n('in'), Held: n('held'), Draining: n('draining'), Out: n('out'),
				Rows: document.querySelectorAll('table.servers tbody tr').length,
				ScrollWidth: document.documentElement.scrollWidth, Title: document.title,
				DrainingHref: document.querySelector('#count-draining').getAttribute('href')};
		})()`, &summary)
		if summary.In != 29 || summary.Held != 1 || summary.Draining != 1 || summary.Out != 0 || summary.Rows != 30 {
			t.Errorf("%d px: summary %+v, want 29 in (1 held), 1 draining, 0 out, 30 rows", width, summary)
		}
		if host, _ := os.Hostname(); !strings.HasPrefix(summary.Title, host+": 1 of 30 servers out") {
			t.Errorf("%d px: title %q", width, summary.Title)
		}
		if summary.ScrollWidth > width {
			t.Errorf("%d px: the page is %d px wide", width, summary.ScrollWidth)
		}
		file := testutil.ArtifactPath(t, fmt.Sprintf("fleet-summary-%d.png", width))
		tab.Screenshot(t, file, false)

		// The count's link lists the draining server alone; its name's
		// link opens its card.
		tab.Load(t, base+summary.DrainingHref)
		var listed struct {
			Names    []string
			Classes  []string
			NameHref string
		}
		tab.Eval(t, `(() => ({
			Names: [...document.querySelectorAll('table.servers td.name a')].map(a => a.textContent),
			Classes: [...document.querySelectorAll('table.servers tbody tr')].map(r => r.className),
			NameHref: (document.querySelector('table.servers td.name a') || {getAttribute: () => ''}).getAttribute('href'),
		}))()`, &listed)
		if len(listed.Names) != 1 || listed.Names[0] != "web05" || listed.Classes[0] != "s-draining" {
			t.Fatalf("%d px: the draining link lists %q (%q)", width, listed.Names, listed.Classes)
		}
		tab.Load(t, base+listed.NameHref)
		var card struct {
			Cards       []string
			Reason      string
			ScrollWidth int
		}
		tab.Eval(t, `(() => ({
			Cards: [...document.querySelectorAll('article.target')].map(a => a.id),
			Reason: (document.querySelector('article.target .reason') || {}).textContent,
			ScrollWidth: document.documentElement.scrollWidth,
		}))()`, &card)
		if len(card.Cards) != 1 || card.Cards[0] != "server-web05" || !strings.HasPrefix(card.Reason, "draining because queue > 500") {
			t.Errorf("%d px: the name's link shows cards %q, reason %q", width, card.Cards, card.Reason)
		}
		if card.ScrollWidth > width {
			t.Errorf("%d px: the card's page is %d px wide", width, card.ScrollWidth)
		}
		tab.Screenshot(t, testutil.ArtifactPath(t, fmt.Sprintf("fleet-card-%d.png", width)), false)
	}
}
