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
	leakCheck(t)
	exp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE jobs gauge\njobs{queue=%q} 600\njobs{queue=\"other\"} 1\n", `"><img src=x onerror=alert(1)>`)
	}))
	defer exp.Close()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomic(t, path, fmt.Sprintf(browserRules, exp.URL))

	for _, lifecycle := range []bool{false, true} {
		t.Run(fmt.Sprintf("lifecycle=%v", lifecycle), func(t *testing.T) {
			ag := startAgent(t, Options{RulesPath: path, EnableLifecycle: lifecycle, Logger: quietLogger()})
			waitFor(t, "the drain", func() bool {
				return strings.HasPrefix(testutil.Poll(t, ag.poll, ""), "up drain")
			})
			url := "http://" + ag.web + "/"
			dom := testutil.Headless(t, "--dump-dom", url)
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
				name, size string
			}{{"phone", "412,1600"}, {"desktop", "1280,1400"}} {
				file := testutil.ArtifactPath(t, fmt.Sprintf("status-page-%s-lifecycle-%v.png", shot.name, lifecycle))
				os.Remove(file)
				testutil.Headless(t, "--window-size="+shot.size, "--screenshot="+file, url)
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
