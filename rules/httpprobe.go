package rules

import "net/http"

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
	// means any 2xx.
	ValidStatusCodes []int
	// BodyLimit bounds what is read of the response body, in bytes.
	BodyLimit int64
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
