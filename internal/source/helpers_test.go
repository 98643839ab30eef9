package source

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"go.uber.org/goleak"

	"github.com/haproxy-agent/agent/rules"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var selectorParser = parser.NewParser(parser.Options{})

// metric builds a scrape metric the way the rule file parser does.
func metric(t testing.TB, name, selector string) *rules.Metric {
	t.Helper()
	ms, err := selectorParser.ParseMetricSelector(selector)
	if err != nil {
		t.Fatalf("selector %q: %v", selector, err)
	}
	return &rules.Metric{Name: name, Source: "app", Selector: selector, Matchers: ms}
}

func withAgg(m *rules.Metric, agg rules.Aggregation) *rules.Metric {
	m.Aggregate = agg
	return m
}

func scrapeSource(url string) *rules.Source {
	return &rules.Source{Name: "app", Kind: rules.KindScrape, Timeout: time.Second, Config: &rules.ScrapeConfig{URL: url, BodyLimit: rules.DefaultBodyLimit}}
}

// exporter serves body with the given content type.
func exporter(t testing.TB, contentType, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newScrapeT(t testing.TB, src *rules.Source) *scrape {
	t.Helper()
	s, err := newScrape(src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

const textCT = "text/plain; version=0.0.4; charset=utf-8"
const omCT = "application/openmetrics-text; version=1.0.0; charset=utf-8"
