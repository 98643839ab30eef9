package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

// promql runs the metrics' queries against a Prometheus-compatible HTTP API
// as instant queries. It keeps one HTTP client across reads, so that
// connections are kept alive from cycle to cycle, and has at most
// MaxConcurrency queries in flight: that many connections in use at once,
// however many metrics (Go's transport may dial for a waiting query and
// then hand it a connection freed meanwhile, so up to twice as many may
// be open). Metrics with the same query share one request per read.
type promql struct {
	src     *rules.Source
	timeout time.Duration
	workers int
	api     v1.API
	client  api.Client
	rt      http.RoundTripper
	logger  *slog.Logger

	mu     sync.Mutex
	warned map[string]string // query → last warnings logged
}

func newPromQL(src *rules.Source, logger *slog.Logger) (*promql, error) {
	cfg, ok := src.Config.(*rules.PrometheusConfig)
	switch {
	case !ok:
		return nil, fmt.Errorf("not a prometheus source: %T", src.Config)
	case src.Timeout <= 0:
		return nil, fmt.Errorf("timeout %s: must be greater than 0", src.Timeout)
	case cfg.MaxConcurrency < 1:
		return nil, fmt.Errorf("max_concurrency %d: must be at least 1", cfg.MaxConcurrency)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c, rt, err := newClient(cfg, rules.DefaultBodyLimit)
	if err != nil {
		return nil, err
	}
	return &promql{
		src:     src,
		timeout: src.Timeout,
		workers: cfg.MaxConcurrency,
		api:     v1.NewAPI(c),
		client:  c,
		rt:      rt,
		logger:  logger,
		warned:  map[string]string{},
	}, nil
}

// newClient builds the API client of a prometheus source with its HTTP
// settings (auth, TLS, proxy), refusing responses larger than limit.
func newClient(src *rules.PrometheusConfig, limit int64) (api.Client, http.RoundTripper, error) {
	// prometheus/common's transport keeps up to 1,000 idle connections per
	// host, more than MaxConcurrency can open: every connection is reused.
	rt, err := config.NewRoundTripperFromConfig(src.HTTP, "agent", config.WithUserAgent(userAgent))
	if err != nil {
		return nil, nil, fmt.Errorf("http client: %w", err)
	}
	// The API client reads a whole response into memory before parsing
	// it: without a cap, a broken or hostile server streaming without end
	// makes the agent allocate as much as arrives within the timeout.
	rt = apiRoundTripper{rt, limit}
	c, err := api.NewClient(api.Config{Address: src.URL, RoundTripper: rt})
	if err != nil {
		return nil, nil, fmt.Errorf("prometheus client: %w", err)
	}
	return c, rt, nil
}

// NewAPI returns the Prometheus HTTP API client of a prometheus source,
// with the source's HTTP settings, for reads other than the instant
// queries of a collection cycle (backtests' range queries). Responses
// larger than limit bytes fail. Close releases its idle connections.
func NewAPI(src *rules.Source, limit int64) (v1.API, io.Closer, error) {
	cfg, ok := src.Config.(*rules.PrometheusConfig)
	if !ok {
		return nil, nil, fmt.Errorf("source %q is a %s source, not prometheus", src.Name, src.Kind)
	}
	c, rt, err := newClient(cfg, limit)
	if err != nil {
		return nil, nil, err
	}
	return v1.NewAPI(c), closeIdle{rt}, nil
}

// closeIdle closes a transport's idle connections.
type closeIdle struct{ rt http.RoundTripper }

func (c closeIdle) Close() error {
	if ci, ok := c.rt.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
	return nil
}

// answer is what one query returned.
type answer struct {
	val        model.Value
	err        error
	serverDown bool // an error of the server or transport, not of the query
}

// Read runs each distinct query once, at most MaxConcurrency at a time,
// all within the source's timeout: a query that could not start in time
// fails with the timeout. When every query failed because the server could
// not be reached or answered with an HTTP error, the whole source failed
// and that is the error returned.
func (p *promql) Read(ctx context.Context, metrics []*rules.Metric) ([]sample.Reading, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	// The API takes times in milliseconds and stamps instant results with
	// the time asked: a fresh sample then has age 0.
	now := time.Now().Truncate(time.Millisecond)

	queries := make([]string, 0, len(metrics))
	index := make(map[string]int, len(metrics))
	// labels[i] is the label queries[i] is read by (fleet mode), when its
	// metrics agree on one: its result then takes the fast decoder.
	labels := make([]string, 0, len(metrics))
	for _, m := range metrics {
		if m.Rate {
			continue
		}
		i, ok := index[m.Query]
		if !ok {
			index[m.Query] = len(queries)
			queries = append(queries, m.Query)
			labels = append(labels, m.ByLabel)
			continue
		}
		if m.ByLabel != "" && labels[i] != m.ByLabel {
			labels[i] = ""
		}
	}
	answers := make([]answer, len(queries))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(p.workers, len(queries)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(queries) {
					return
				}
				answers[i] = p.query(ctx, queries[i], labels[i], now)
			}
		})
	}
	wg.Wait()

	out := make([]sample.Reading, len(metrics))
	down := true
	for i, m := range metrics {
		if m.Rate {
			out[i].Err = errors.New("rate: true needs a scrape source; use rate() in the query")
			down = false
			continue
		}
		a := answers[index[m.Query]]
		if a.err != nil {
			out[i].Err = a.err
			down = down && a.serverDown
			continue
		}
		down = false
		out[i] = Reading(a.val, m, now)
	}
	if down && len(out) > 0 {
		return nil, out[0].Err
	}
	return out, nil
}

// Close releases idle connections.
func (p *promql) Close() error {
	if ci, ok := p.rt.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
	return nil
}

// query runs one instant query at now, with what is left of the read's
// time as the server-side timeout. A query read by label (fleet mode: a
// sample per server) goes through the fast vector decoder, and through
// the API client when that cannot tell.
func (p *promql) query(ctx context.Context, q, label string, now time.Time) answer {
	if ctx.Err() != nil {
		return answer{err: describe(ctx, p.timeout, ctx.Err()), serverDown: true}
	}
	var opts []v1.Option
	serverSide := time.Duration(0)
	if dl, ok := ctx.Deadline(); ok {
		serverSide = serverTimeout(time.Until(dl))
		opts = append(opts, v1.WithTimeout(serverSide))
	}
	var (
		val      model.Value
		warnings v1.Warnings
		infos    v1.Infos
		err      error
	)
	if label != "" {
		val, warnings, infos, err = vectorQuery(ctx, p.client, q, label, now, serverSide)
	}
	if label == "" || errors.Is(err, errNotFast) {
		val, warnings, infos, err = p.api.Query(ctx, q, now, opts...)
	}
	p.logNotes(q, warnings, infos)
	if err != nil {
		return answer{err: describeAPI(ctx, p.timeout, err), serverDown: sourceLevel(err)}
	}
	return answer{val: val}
}

// serverTimeout rounds d down to a duration that the client prints in a
// form Prometheus parses: whole seconds, or whole milliseconds below one
// second ("4.5s" is refused).
func serverTimeout(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Truncate(time.Second)
	}
	return max(d.Truncate(time.Millisecond), time.Millisecond)
}

// Reading turns a query result at now (an instant query's, or one step
// of a range query's) into the metric's reading: one number, reduced with
// the metric's aggregate, and for a metric read by label, the number of
// each label value too.
func Reading(val model.Value, m *rules.Metric, now time.Time) sample.Reading {
	switch v := val.(type) {
	case *model.Scalar:
		return sample.Reading{Value: float64(v.Value), Age: ageAt(now, v.Timestamp)}
	case model.Vector:
		r := sample.Reading{}
		r.Value, r.Age, r.Err = reduceVector(v, m.Aggregate, now)
		if m.ByLabel != "" {
			r.ByLabel = byLabel(v, m.ByLabel, m.Aggregate, now)
		}
		return r
	case nil:
		return sample.Reading{Err: errors.New("query returned nothing")}
	}
	return sample.Reading{Err: fmt.Errorf("query returned a %s; want a scalar or an instant vector", val.Type())}
}

// reduceVector reduces the samples of a vector to one value, as old as its
// oldest sample.
func reduceVector(v model.Vector, agg rules.Aggregation, now time.Time) (float64, time.Duration, error) {
	if len(v) == 0 {
		return 0, 0, errors.New("query returned no samples")
	}
	vals := make([]float64, len(v))
	var age time.Duration
	for i, s := range v {
		if s.Histogram != nil {
			return 0, 0, histogramError(s)
		}
		vals[i] = float64(s.Value)
		age = max(age, ageAt(now, s.Timestamp))
	}
	x, err := reduce(vals, agg, "samples returned")
	return x, age, err
}

// byLabel groups the samples of a vector by the value of label, reducing
// the samples that share a value with agg. Samples without the label are
// left out.
func byLabel(v model.Vector, label string, agg rules.Aggregation, now time.Time) map[string]sample.Labeled {
	groups := map[string]model.Vector{}
	for _, s := range v {
		lv, ok := s.Metric[model.LabelName(label)]
		if !ok {
			continue
		}
		groups[string(lv)] = append(groups[string(lv)], s)
	}
	out := make(map[string]sample.Labeled, len(groups))
	for lv, g := range groups {
		x, age, err := reduceVector(g, agg, now)
		out[lv] = sample.Labeled{Value: x, Age: age, Err: err}
	}
	return out
}

// histogramError says why a native histogram sample has no single value.
func histogramError(s *model.Sample) error {
	return fmt.Errorf("%s is a native histogram, not a number: use histogram_quantile(), histogram_count() or histogram_sum() in the query", s.Metric)
}

// ageAt is how old a sample stamped t is at now; 0 for a sample from the
// future (clock skew says nothing about staleness).
func ageAt(now time.Time, t model.Time) time.Duration {
	return max(now.Sub(t.Time()), 0)
}

// logNotes logs a query's warnings when they change, not every cycle.
func (p *promql) logNotes(q string, warnings v1.Warnings, infos v1.Infos) {
	text := strings.Join(warnings, "; ")
	p.mu.Lock()
	changed := p.warned[q] != text
	p.warned[q] = text
	p.mu.Unlock()
	if changed && text != "" {
		p.logger.Warn("query returned warnings", "query", q, "warnings", text)
	}
	if len(infos) > 0 {
		p.logger.Debug("query returned infos", "query", q, "infos", strings.Join(infos, "; "))
	}
}

// describeAPI shortens an API error: HTTP-level errors read "server error:
// 500", query errors keep their type ("bad_data: ...").
func describeAPI(ctx context.Context, timeout time.Duration, err error) error {
	var ae *v1.Error
	if !errors.As(err, &ae) {
		return describe(ctx, timeout, err)
	}
	switch ae.Type {
	case v1.ErrServer, v1.ErrClient, v1.ErrBadResponse:
		return &shortError{ae.Msg, err}
	}
	return err
}

// sourceLevel says whether a query error means the server failed rather
// than the query.
func sourceLevel(err error) bool {
	var ae *v1.Error
	if !errors.As(err, &ae) {
		return true
	}
	switch ae.Type {
	case v1.ErrServer, v1.ErrClient, v1.ErrBadResponse:
		return true
	}
	return false
}

// apiRoundTripper refuses what cannot be an API response (an HTML page,
// from a proxy's login or error page or a URL pointing at a web UI) and
// fails the read of a response body past limit bytes.
type apiRoundTripper struct {
	rt    http.RoundTripper
	limit int64
}

func (l apiRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	redirect := resp.StatusCode >= 300 && resp.StatusCode < 400
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/html" && !redirect {
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		_ = resp.Body.Close()
		u := *req.URL
		u.RawQuery, u.Fragment = "", ""
		return nil, &shortError{fmt.Sprintf("not a Prometheus API response: got text/html (HTTP %d) from %s", resp.StatusCode, u.Redacted()), errNotAPI}
	}
	resp.Body = &limitBody{ReadCloser: resp.Body, left: l.limit, limit: l.limit}
	return resp, nil
}

var errNotAPI = errors.New("not a Prometheus API response")

// CloseIdleConnections passes through to the wrapped RoundTripper.
func (l apiRoundTripper) CloseIdleConnections() {
	if ci, ok := l.rt.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// limitBody reads at most limit bytes, then fails.
type limitBody struct {
	io.ReadCloser
	left, limit int64
}

func (b *limitBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly limit bytes from a longer one.
		var one [1]byte
		if n, _ := b.ReadCloser.Read(one[:]); n == 0 {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("response larger than %s", sizeString(b.limit))
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}
