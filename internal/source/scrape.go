package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/expfmt"

	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

// acceptHeader asks for the Prometheus text format first, then
// OpenMetrics, then anything (parsed as text).
const acceptHeader = "text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,*/*;q=0.1"

// userAgent is sent with every request of the agent.
const userAgent = "haproxy-agent"

// scrape reads a /metrics page: one GET per Read, however many metrics.
type scrape struct {
	src     *rules.Source
	url     string
	timeout time.Duration
	limit   int64
	client  *http.Client
	body    bytes.Buffer
	gz      *gzip.Reader
	page    *page
	sel     seriesSelector
	now     func() time.Time
}

func newScrape(src *rules.Source) (*scrape, error) {
	c, ok := src.Config.(*rules.ScrapeConfig)
	if !ok {
		return nil, fmt.Errorf("not a scrape source: %T", src.Config)
	}
	client, err := config.NewClientFromConfig(c.HTTP, "agent", config.WithUserAgent(userAgent))
	if err != nil {
		return nil, fmt.Errorf("http client: %w", err)
	}
	switch {
	case src.Timeout <= 0:
		return nil, fmt.Errorf("timeout %s: must be greater than 0", src.Timeout)
	case c.BodyLimit <= 0:
		return nil, fmt.Errorf("body_limit %d: must be greater than 0", c.BodyLimit)
	}
	return &scrape{
		src:     src,
		url:     c.URL,
		timeout: src.Timeout,
		limit:   c.BodyLimit,
		client:  client,
		page:    newPage(),
		now:     time.Now,
	}, nil
}

// Read fetches the page once and selects every metric from it.
func (s *scrape) Read(ctx context.Context, metrics []*rules.Metric) ([]sample.Reading, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	openMetrics, err := s.fetch(ctx)
	if err != nil {
		return nil, describe(ctx, s.timeout, err)
	}
	t := s.now()
	fams, err := s.page.parse(s.body.Bytes(), openMetrics, metrics)
	if err != nil {
		return nil, err
	}
	return s.selectAll(fams, metrics, t), nil
}

// Close releases idle connections.
func (s *scrape) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// fetch GETs the page into s.body and says whether it is OpenMetrics.
func (s *scrape) fetch(ctx context.Context) (openMetrics bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", acceptHeader)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(s.timeout.Seconds(), 'f', -1, 64))
	resp, err := s.client.Do(req)
	if err != nil {
		return false, err
	}
	defer func() {
		// Drain a little so that the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("HTTP %s", resp.Status)
	}
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		if s.gz == nil {
			s.gz, err = gzip.NewReader(resp.Body)
		} else {
			err = s.gz.Reset(resp.Body)
		}
		if err != nil {
			return false, fmt.Errorf("gzip: %w", err)
		}
		r = s.gz
	}
	s.body.Reset()
	n, err := s.body.ReadFrom(io.LimitReader(r, s.limit+1))
	if err != nil {
		return false, fmt.Errorf("reading body: %w", err)
	}
	if n > s.limit {
		return false, fmt.Errorf("body larger than %s", sizeString(s.limit))
	}
	return expfmt.ResponseFormat(resp.Header).FormatType() == expfmt.TypeOpenMetrics, nil
}

// selectAll turns the parsed page into one Reading per metric; t is the
// time of the read.
func (s *scrape) selectAll(fams map[string][]series, metrics []*rules.Metric, t time.Time) []sample.Reading {
	return s.sel.all(fams, metrics, t, nil)
}

// sizeString prints a byte count the way limits are usually written.
func sizeString(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
