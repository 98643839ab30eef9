package rules

import (
	"strings"

	"github.com/prometheus/common/config"
)

// KindScrape names the scrape kind of source.
const KindScrape SourceKind = "scrape"

// ScrapeConfig is what a scrape source reads: a /metrics page in the
// Prometheus text format, fetched whole once per cycle.
type ScrapeConfig struct {
	// URL is the page (scrape: URL).
	URL string
	// BodyLimit caps the page's size in bytes (body_limit, default
	// DefaultBodyLimit).
	BodyLimit int64
	// HTTP holds the HTTP client settings (auth, TLS, proxy), validated.
	HTTP config.HTTPClientConfig
}

func (c *ScrapeConfig) httpSettings() *config.HTTPClientConfig { return &c.HTTP }

var scrapeKind = &srcKind{
	name:    KindScrape,
	key:     "scrape",
	target:  "URL (a /metrics page)",
	options: []string{"body_limit"},
	http:    true,
	newConfig: func(*Source) any {
		return &ScrapeConfig{BodyLimit: DefaultBodyLimit, HTTP: config.DefaultHTTPClientConfig}
	},
	check: func(p *parser, s *Source, d sourceDoc) {
		c := s.Config.(*ScrapeConfig)
		c.URL = p.sourceURL(d)
		p.bodyLimit(&c.BodyLimit, d)
	},
	metric: seriesMetric(KindScrape),
}

// seriesMetric returns the metric check of a kind whose metrics select
// series from what it reads (a scraped page, a probe's outcome, a
// command's output): a series selector.
func seriesMetric(kind SourceKind) func(p *parser, m *Metric, d metricDoc, ref metricRef) bool {
	article := "a "
	if strings.ContainsRune("aeiou", rune(kind[0])) || kind == KindHTTP {
		article = "an "
	}
	return func(p *parser, m *Metric, d metricDoc, ref metricRef) bool {
		if ref.textKey == "query" {
			p.errorf(ref.textNode, d.ctx, "query is for %s sources; %s%s source takes select: with a series selector", queryKinds(), article, kind)
			return false
		}
		ms, err := promql.ParseMetricSelector(ref.text)
		if err != nil {
			p.promqlError(ref.textNode, ref.textOff, ref.text, d.ctx, "selector", err)
			return false
		}
		m.Selector, m.Matchers = ref.text, ms
		return true
	}
}
