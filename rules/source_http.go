package rules

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

// KindHTTP names the http kind of source: a probe of a service's own
// health endpoint, one request per cycle, whose outcome is a set of
// series (success, status_code, duration_seconds and the JSON fields the
// source names).
const KindHTTP SourceKind = "http"

// DefaultProbeBodyLimit bounds what a probe reads of a response body.
const DefaultProbeBodyLimit = 1 << 20

// The series every probe yields; a JSON field may not take these names.
const (
	ProbeSuccess    = "success"
	ProbeStatusCode = "status_code"
	ProbeDuration   = "duration_seconds"
)

// HTTPConfig is what an http source reads: the one request it sends per
// cycle, and what it takes of the answer.
type HTTPConfig struct {
	// URL is the endpoint probed (http: URL).
	URL string
	// Method is the request's method (method, default GET).
	Method string
	// Headers are set on every request (headers).
	Headers http.Header
	// Body is the request's body; empty for none (body).
	Body string
	// ValidStatusCodes are the statuses that count as success
	// (valid_status_codes); empty means any 2xx.
	ValidStatusCodes []int
	// BodyLimit bounds what is read of the response body, in bytes
	// (body_limit, default DefaultProbeBodyLimit).
	BodyLimit int64
	// JSON names fields of a JSON response body, each one series (json).
	JSON []JSONField
	// HTTP holds the HTTP client settings (auth, TLS, proxy), validated.
	HTTP config.HTTPClientConfig
}

// JSONField is one named field of a probe's JSON body.
type JSONField struct {
	// Name is the series the field's value is.
	Name string
	// Path locates the value in the body, in GJSON's path syntax: keys
	// separated by dots, array indexes as keys (replication.lag_seconds,
	// replicas.0.lag).
	Path string
}

// Valid reports whether status counts as the probe's success.
func (c *HTTPConfig) Valid(status int) bool {
	if len(c.ValidStatusCodes) == 0 {
		return status >= 200 && status < 300
	}
	return slices.Contains(c.ValidStatusCodes, status)
}

func (c *HTTPConfig) httpSettings() *config.HTTPClientConfig { return &c.HTTP }

var httpKind = &srcKind{
	name:    KindHTTP,
	key:     "http",
	target:  "URL (a probe of a health endpoint)",
	options: []string{"method", "headers", "body", "valid_status_codes", "json", "body_limit"},
	http:    true,
	newConfig: func(*Source) any {
		return &HTTPConfig{Method: http.MethodGet, BodyLimit: DefaultProbeBodyLimit, HTTP: config.DefaultHTTPClientConfig}
	},
	check: func(p *parser, s *Source, d sourceDoc) {
		c := s.Config.(*HTTPConfig)
		c.URL = p.sourceURL(d)
		p.bodyLimit(&c.BodyLimit, d)
		p.probeOptions(c, d)
	},
	metric: seriesMetric(KindHTTP),
}

// probeSeries are the names a probe's JSON fields may not take.
var probeSeries = []string{ProbeSuccess, ProbeStatusCode, ProbeDuration}

// tokenRe is an HTTP token: a method or a header name.
var tokenRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// probeOptions reads the request and the JSON fields of an http source.
func (p *parser) probeOptions(c *HTTPConfig, d sourceDoc) {
	ctx := d.ctx
	if e := d.option("method"); e.given() {
		if v, ok := p.scalar(e, ctx); ok {
			if m := strings.ToUpper(strings.TrimSpace(v)); tokenRe.MatchString(m) {
				c.Method = m
			} else {
				p.errorf(e.val, ctx, "method %q: want an HTTP method such as GET, HEAD or POST", v)
			}
		}
	}
	if e := d.option("headers"); e.given() && p.mappingOf(e, ctx, false) {
		c.Headers = http.Header{}
		for _, h := range p.entries(e.val, ctx, "header") {
			v, ok := p.scalar(h, ctx)
			switch {
			case !ok:
			case !tokenRe.MatchString(h.key.Value):
				p.errorf(h.key, ctx, "headers: bad header name %q", h.key.Value)
			case hasControl(v):
				p.errorf(h.val, ctx, "headers: %s: the value holds a control character (newline, tab...)", h.key.Value)
			default:
				c.Headers.Add(h.key.Value, v)
			}
		}
	}
	if e := d.option("body"); e.given() {
		if v, ok := p.scalar(e, ctx); ok {
			c.Body = v
		}
	}
	if e := d.option("valid_status_codes"); e.given() {
		c.ValidStatusCodes = p.statusCodes(e, ctx)
	}
	if e := d.option("json"); e.given() && p.mappingOf(e, ctx, false) {
		c.JSON = p.jsonFields(e, ctx)
	}
}

// statusCodes reads valid_status_codes: a list of HTTP statuses.
func (p *parser) statusCodes(e pair, ctx string) []int {
	items, ok := yamlnode.List(yamlnode.Pair{Key: e.key, Val: e.val}, p.report(ctx))
	if !ok {
		return nil
	}
	if len(items) == 0 {
		p.errorf(e.key, ctx, "valid_status_codes: the list is empty: leave the key out for any 2xx")
		return nil
	}
	codes := make([]int, 0, len(items))
	for _, n := range items {
		c, err := strconv.Atoi(strings.TrimSpace(n.Value))
		if n.Kind != yaml.ScalarNode || err != nil || c < 100 || c > 599 {
			p.errorf(n, ctx, "valid_status_codes: want HTTP statuses from 100 to 599, got %q", n.Value)
			continue
		}
		codes = append(codes, c)
	}
	return codes
}

// jsonFields reads json: NAME: PATH, in file order.
func (p *parser) jsonFields(e pair, ctx string) []JSONField {
	var fields []JSONField
	for _, f := range p.entries(e.val, ctx, "JSON field") {
		path, ok := p.scalar(f, ctx)
		switch name := f.key.Value; {
		case !ok:
		case !metricNameRe.MatchString(name):
			p.errorf(f.key, ctx, "json: bad field name %q: want letters, digits and _, not starting with a digit (it names a series)", name)
		case slices.Contains(probeSeries, name):
			p.errorf(f.key, ctx, "json: %q names a series every probe has (%s); pick another name", name, strings.Join(probeSeries, ", "))
		case strings.TrimSpace(path) == "":
			p.errorf(f.val, ctx, "json: %s: empty path: want one such as replication.lag_seconds", name)
		case hasControl(path):
			p.errorf(f.val, ctx, "json: %s: the path holds a control character", name)
		default:
			fields = append(fields, JSONField{Name: name, Path: strings.TrimSpace(path)})
		}
	}
	return fields
}
