package rules

import "github.com/prometheus/common/config"

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
	metric: scrapeMetric,
}

// scrapeMetric checks a metric of a scrape source: a series selector.
func scrapeMetric(p *parser, m *Metric, d metricDoc, ref metricRef) bool {
	if ref.textKey == "query" {
		p.errorf(ref.textNode, d.ctx, "query is for %s sources; a scrape source takes select: with a series selector", queryKinds())
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
