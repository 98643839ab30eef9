package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

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
	timeout time.Duration
	limit   int64
	client  *http.Client
	body    bytes.Buffer
	gz      *gzip.Reader
	page    *page
	rates   rates
	vals    []float64
	seed    maphash.Seed
	now     func() time.Time
}

func newScrape(src *rules.Source) (*scrape, error) {
	client, err := config.NewClientFromConfig(src.HTTP, "agent", config.WithUserAgent(userAgent))
	if err != nil {
		return nil, fmt.Errorf("http client: %w", err)
	}
	limit := src.BodyLimit
	if limit <= 0 {
		limit = rules.DefaultBodyLimit
	}
	return &scrape{
		src:     src,
		timeout: timeoutOf(src),
		limit:   limit,
		client:  client,
		page:    newPage(),
		seed:    maphash.MakeSeed(),
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.src.URL, nil)
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

// selectAll turns the parsed page into one Reading per metric.
func (s *scrape) selectAll(fams map[string]*dto.MetricFamily, metrics []*rules.Metric, t time.Time) []sample.Reading {
	s.rates.begin()
	out := make([]sample.Reading, len(metrics))
	for i, m := range metrics {
		v, err := s.selectOne(fams, m, t)
		out[i] = sample.Reading{Value: v, Err: err}
	}
	return out
}

func (s *scrape) selectOne(fams map[string]*dto.MetricFamily, m *rules.Metric, t time.Time) (float64, error) {
	var st *rateState
	if m.Rate {
		st = s.rates.state(m.Selector)
	}
	s.vals = s.vals[:0]
	matched, fresh := 0, 0
	add := func(name string, series *dto.Metric) {
		if !matches(m, name, series) {
			return
		}
		matched++
		v := valueOf(series)
		if st != nil {
			r, ok := st.rate(s.hash(name, series), v, t)
			if !ok {
				fresh++
				return
			}
			v = r
		}
		s.vals = append(s.vals, v)
	}
	if name, ok := equalName(m); ok {
		if f := fams[name]; f != nil {
			for _, series := range f.Metric {
				add(name, series)
			}
		}
	} else {
		for name, f := range fams {
			for _, series := range f.Metric {
				add(name, series)
			}
		}
	}
	switch {
	case matched == 0:
		return 0, fmt.Errorf("no series matched %s", m.Selector)
	case matched > 1 && m.Aggregate == rules.AggNone:
		return 0, fmt.Errorf("%d series matched; set aggregate", matched)
	case len(s.vals) == 0:
		return 0, errFirstScrape
	}
	return reduce(s.vals, m.Aggregate, "series matched")
}

// equalName is the name a metric selects by equality, if it does.
func equalName(m *rules.Metric) (string, bool) {
	for _, l := range m.Matchers {
		if l.Name == model.MetricNameLabel && l.Type == labels.MatchEqual {
			return l.Value, true
		}
	}
	return "", false
}

// matches applies every matcher of m to a series; a label the series lacks
// has the empty value, as in PromQL.
func matches(m *rules.Metric, name string, series *dto.Metric) bool {
	for _, l := range m.Matchers {
		v := name
		if l.Name != model.MetricNameLabel {
			v = ""
			for _, p := range series.Label {
				if p.GetName() == l.Name {
					v = p.GetValue()
					break
				}
			}
		}
		if !l.Matches(v) {
			return false
		}
	}
	return true
}

func valueOf(series *dto.Metric) float64 {
	switch {
	case series.Untyped != nil:
		return series.Untyped.GetValue()
	case series.Gauge != nil:
		return series.Gauge.GetValue()
	case series.Counter != nil:
		return series.Counter.GetValue()
	}
	return 0
}

// hash identifies a series independently of its labels' order.
func (s *scrape) hash(name string, series *dto.Metric) uint64 {
	h := maphash.String(s.seed, name)
	for _, p := range series.Label {
		var mh maphash.Hash
		mh.SetSeed(s.seed)
		mh.WriteString(p.GetName())
		mh.WriteByte(0xff)
		mh.WriteString(p.GetValue())
		h += mh.Sum64()
	}
	return h
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
