package rules

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

// KindHTTP is a probe of a service's own health endpoint: one request per
// cycle, whose outcome is a set of series (success, status_code,
// duration_seconds and the JSON fields the source names).
const KindHTTP SourceKind = "http"

// DefaultProbeBodyLimit bounds what a probe reads of a response body.
const DefaultProbeBodyLimit = 1 << 20

// The series every probe yields; a JSON field may not take these names.
const (
	ProbeSuccess    = "success"
	ProbeStatusCode = "status_code"
	ProbeDuration   = "duration_seconds"
)

// HTTPProbe is the configuration of an http source beside what every
// source has (URL, Timeout, HTTP client settings).
type HTTPProbe struct {
	// Method is the request's method (default GET).
	Method string
	// Headers are set on every request.
	Headers http.Header
	// Body is the request's body; empty for none.
	Body string
	// ValidStatusCodes are the statuses that count as success; empty
	// means any 2xx. (What is read of the body is bounded by the
	// source's BodyLimit.)
	ValidStatusCodes []int
	// JSON names fields of a JSON response body, each one series.
	JSON []JSONField
}

// JSONField is one named field of a probe's JSON body.
type JSONField struct {
	// Name is the series the field's value is.
	Name string
	// Path locates the value in the body: keys separated by dots, array
	// indexes as keys (replication.lag_seconds, replicas.0.lag).
	Path string
}

// Valid reports whether status counts as the probe's success.
func (p *HTTPProbe) Valid(status int) bool {
	if len(p.ValidStatusCodes) == 0 {
		return status >= 200 && status < 300
	}
	for _, c := range p.ValidStatusCodes {
		if c == status {
			return true
		}
	}
	return false
}

// probeSeries are the names a probe's JSON fields may not take.
var probeSeries = []string{ProbeSuccess, ProbeStatusCode, ProbeDuration}

// tokenRe is an HTTP token: a method or a header name.
var tokenRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// probeOptions reads the keys of an http source into s.Probe.
func (p *parser) probeOptions(s *Source, d sourceDoc) {
	pr := &HTTPProbe{Method: http.MethodGet}
	ctx := d.ctx
	if e, ok := d.opts["method"]; ok {
		if v, ok := p.scalar(e, ctx); ok {
			if m := strings.ToUpper(strings.TrimSpace(v)); tokenRe.MatchString(m) {
				pr.Method = m
			} else {
				p.errorf(e.val, ctx, "method %q: want an HTTP method such as GET, HEAD or POST", v)
			}
		}
	}
	if e, ok := d.opts["headers"]; ok && p.mappingOf(e, ctx, false) {
		pr.Headers = http.Header{}
		for _, h := range p.entries(e.val, ctx, "header") {
			v, ok := p.scalar(h, ctx)
			switch {
			case !ok:
			case !tokenRe.MatchString(h.key.Value):
				p.errorf(h.key, ctx, "headers: bad header name %q", h.key.Value)
			case hasControl(v):
				p.errorf(h.val, ctx, "headers: %s: the value holds a control character (newline, tab...)", h.key.Value)
			default:
				pr.Headers.Add(h.key.Value, v)
			}
		}
	}
	if e, ok := d.opts["body"]; ok {
		if v, ok := p.scalar(e, ctx); ok {
			pr.Body = v
		}
	}
	if e, ok := d.opts["valid_status_codes"]; ok {
		pr.ValidStatusCodes = p.statusCodes(e, ctx)
	}
	if e, ok := d.opts["json"]; ok && p.mappingOf(e, ctx, false) {
		pr.JSON = p.jsonFields(e, ctx)
	}
	s.Probe = pr
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

// kindOnly reports the keys of one kind given to a source of another.
func (p *parser) kindOnly(s *Source, d sourceDoc, keys []string, kind SourceKind) {
	if s.Kind == "" || s.Kind == kind {
		return
	}
	for _, k := range keys {
		if e, ok := d.opts[k]; ok {
			p.errorf(e.key, d.ctx, "%s applies to %s sources only", k, kind)
		}
	}
}
