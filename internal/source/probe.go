package source

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

// probe reads an http source: one request per Read, whose outcome is a
// set of series. A failed probe (refused, timed out, a status that is not
// valid) is a value, success 0, not a failed read: a rule such as
// `healthy == 0 => down` must see the service die without on_missing.
type probe struct {
	cfg     *rules.HTTPConfig
	timeout time.Duration
	limit   int64
	client  *http.Client
	body    bytes.Buffer
	sel     seriesSelector
	fams    map[string][]series
	absent  map[string]error
	now     func() time.Time
}

func newProbe(src *rules.Source) (*probe, error) {
	cfg, ok := src.Config.(*rules.HTTPConfig)
	switch {
	case !ok:
		return nil, fmt.Errorf("not an http source: %T", src.Config)
	case src.Timeout <= 0:
		return nil, fmt.Errorf("timeout %s: must be greater than 0", src.Timeout)
	case cfg.BodyLimit <= 0:
		return nil, fmt.Errorf("body_limit %d: must be greater than 0", cfg.BodyLimit)
	}
	// Keep-alives off, as blackbox_exporter probes: each probe opens its
	// own connection, so a service that stopped accepting fails it rather
	// than answering on a connection opened before.
	client, err := config.NewClientFromConfig(cfg.HTTP, "agent", config.WithUserAgent(userAgent), config.WithKeepAlivesDisabled())
	if err != nil {
		return nil, fmt.Errorf("http client: %w", err)
	}
	return &probe{
		cfg:     cfg,
		timeout: src.Timeout,
		limit:   cfg.BodyLimit,
		client:  client,
		fams:    map[string][]series{},
		absent:  map[string]error{},
		now:     time.Now,
	}, nil
}

// Read sends the request once and turns its outcome into the metrics'
// readings. It never fails as a whole: what went wrong is success 0 and
// the reason the other series are missing.
func (p *probe) Read(ctx context.Context, metrics []*rules.Metric) ([]sample.Reading, error) {
	ctx, cancel := boundedContext(ctx, p.timeout)
	defer cancel()
	start := time.Now()
	status, bodyErr, err := p.do(ctx)
	took := time.Since(start)

	clear(p.fams)
	clear(p.absent)
	p.put(rules.ProbeSuccess, boolValue(err == nil && p.cfg.Valid(status)))
	p.put(rules.ProbeDuration, took.Seconds())
	if err != nil {
		why := fmt.Errorf("no response: %w", describe(ctx, p.timeout, err))
		p.absent[rules.ProbeStatusCode] = why
		for _, f := range p.cfg.JSON {
			p.absent[f.Name] = why
		}
	} else {
		p.put(rules.ProbeStatusCode, float64(status))
		p.jsonFields(bodyErr)
	}
	return p.sel.all(p.fams, metrics, p.now(), p.why), nil
}

// why says why m, whose selector matched nothing, is missing, when the
// probe knows: no response, a body that is not JSON, a path that matched
// nothing.
func (p *probe) why(m *rules.Metric) error {
	name, _ := equalName(m)
	return p.absent[name]
}

// Close releases the client's connections.
func (p *probe) Close() error {
	p.client.CloseIdleConnections()
	return nil
}

// do sends the request and reads the body into p.body when JSON fields
// are wanted. err is a failure to get a response; bodyErr a failure to
// read the body of one.
func (p *probe) do(ctx context.Context) (status int, bodyErr, err error) {
	var body io.Reader
	if p.cfg.Body != "" {
		body = strings.NewReader(p.cfg.Body)
	}
	req, err := http.NewRequestWithContext(ctx, p.cfg.Method, p.cfg.URL, body)
	if err != nil {
		return 0, nil, err
	}
	for k, vs := range p.cfg.Headers {
		if http.CanonicalHeaderKey(k) == "Host" && len(vs) > 0 {
			req.Host = vs[0]
			continue
		}
		req.Header[k] = vs
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	p.body.Reset()
	if len(p.cfg.JSON) == 0 {
		return resp.StatusCode, nil, nil
	}
	n, err := p.body.ReadFrom(io.LimitReader(resp.Body, p.limit+1))
	switch {
	case err != nil:
		return resp.StatusCode, fmt.Errorf("reading body: %w", describe(ctx, p.timeout, err)), nil
	case n > p.limit:
		return resp.StatusCode, fmt.Errorf("body larger than %s (body_limit)", sizeString(p.limit)), nil
	}
	return resp.StatusCode, nil, nil
}

// jsonFields adds the series of the JSON fields read from p.body, or says
// why each is missing.
func (p *probe) jsonFields(bodyErr error) {
	if len(p.cfg.JSON) == 0 {
		return
	}
	if bodyErr == nil {
		bodyErr = checkJSON(p.body.Bytes())
	}
	for _, f := range p.cfg.JSON {
		if bodyErr != nil {
			p.absent[f.Name] = bodyErr
			continue
		}
		v, err := jsonNumber(p.body.Bytes(), f.Path)
		if err != nil {
			p.absent[f.Name] = err
			continue
		}
		p.put(f.Name, v)
	}
}

// put adds a series of that name, without other labels.
func (p *probe) put(name string, v float64) {
	p.fams[name] = append(p.fams[name], series{lset: labels.FromStrings("__name__", name), v: v})
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// outcomeGrace is how long the collector waits for a probe's or a
// command's outcome past the read's deadline (see sample.Outcome): a
// probe cut off at its deadline returns at once, a command once its
// process group is killed; the grace only covers a loaded machine.
const outcomeGrace = time.Second

// ResultGrace makes a probe a sample.Outcome: its read ends at the
// deadline with success 0, which must not be dropped as a timeout.
func (p *probe) ResultGrace() time.Duration { return outcomeGrace }

// boundedContext returns ctx bounded by timeout, when its own deadline is
// later or unset: a probe or a command runs until its read's deadline,
// then reports what happened (success 0, the process group killed).
func boundedContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= timeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, timeout)
}
