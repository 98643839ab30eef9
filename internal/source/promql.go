package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

// promql runs each metric's query against a Prometheus-compatible HTTP API
// as an instant query, all of a source's queries concurrently.
type promql struct {
	src     *rules.Source
	timeout time.Duration
	api     v1.API
	rt      http.RoundTripper
	logger  *slog.Logger

	mu     sync.Mutex
	warned map[string]string // metric name → last warnings logged
}

func newPromQL(src *rules.Source, logger *slog.Logger) (*promql, error) {
	rt, err := config.NewRoundTripperFromConfig(src.HTTP, "agent", config.WithUserAgent(userAgent))
	if err != nil {
		return nil, fmt.Errorf("http client: %w", err)
	}
	// The API client reads a whole response into memory before parsing
	// it: without a cap, a broken or hostile server streaming without end
	// makes the agent allocate as much as arrives within the timeout.
	c, err := api.NewClient(api.Config{Address: src.URL, RoundTripper: limitRoundTripper{rt, rules.DefaultBodyLimit}})
	if err != nil {
		return nil, fmt.Errorf("prometheus client: %w", err)
	}
	return &promql{
		src:     src,
		timeout: timeoutOf(src),
		api:     v1.NewAPI(c),
		rt:      rt,
		logger:  logger,
		warned:  map[string]string{},
	}, nil
}

// Read runs one instant query per metric. When every query failed because
// the server could not be reached or answered with an HTTP error, the
// whole source failed and that is the error returned.
func (p *promql) Read(ctx context.Context, metrics []*rules.Metric) ([]sample.Reading, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	now := time.Now()
	out := make([]sample.Reading, len(metrics))
	down := make([]bool, len(metrics))
	var wg sync.WaitGroup
	for i, m := range metrics {
		wg.Go(func() {
			v, err, serverDown := p.query(ctx, m, now)
			out[i] = sample.Reading{Value: v, Err: err}
			down[i] = serverDown
		})
	}
	wg.Wait()
	for _, d := range down {
		if !d {
			return out, nil
		}
	}
	if len(out) > 0 {
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

// query runs one metric's query. serverDown reports an error of the
// server or the transport rather than of the query.
func (p *promql) query(ctx context.Context, m *rules.Metric, now time.Time) (v float64, err error, serverDown bool) {
	if m.Rate {
		return 0, errors.New("rate: true needs a scrape source; use rate() in the query"), false
	}
	val, warnings, infos, err := p.api.Query(ctx, m.Query, now, v1.WithTimeout(p.timeout))
	p.logNotes(m, warnings, infos)
	if err != nil {
		return 0, describeAPI(ctx, p.timeout, err), sourceLevel(err)
	}
	v, err = value(val, m.Aggregate)
	return v, err, false
}

// value turns a query result into one number.
func value(val model.Value, agg rules.Aggregation) (float64, error) {
	switch v := val.(type) {
	case *model.Scalar:
		return float64(v.Value), nil
	case model.Vector:
		if len(v) == 0 {
			return 0, errors.New("query returned no samples")
		}
		vals := make([]float64, len(v))
		for i, s := range v {
			vals[i] = float64(s.Value)
		}
		return reduce(vals, agg, "samples returned")
	case nil:
		return 0, errors.New("query returned nothing")
	}
	return 0, fmt.Errorf("query returned a %s; want a scalar or an instant vector", val.Type())
}

// logNotes logs a query's warnings when they change, not every cycle.
func (p *promql) logNotes(m *rules.Metric, warnings v1.Warnings, infos v1.Infos) {
	text := strings.Join(warnings, "; ")
	p.mu.Lock()
	changed := p.warned[m.Name] != text
	p.warned[m.Name] = text
	p.mu.Unlock()
	if changed && text != "" {
		p.logger.Warn("query returned warnings", "metric", m.Name, "query", m.Query, "warnings", text)
	}
	if len(infos) > 0 {
		p.logger.Debug("query returned infos", "metric", m.Name, "infos", strings.Join(infos, "; "))
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

// limitRoundTripper fails the read of a response body past limit bytes.
type limitRoundTripper struct {
	rt    http.RoundTripper
	limit int64
}

func (l limitRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitBody{ReadCloser: resp.Body, left: l.limit, limit: l.limit}
	return resp, nil
}

// CloseIdleConnections passes through to the wrapped RoundTripper.
func (l limitRoundTripper) CloseIdleConnections() {
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
