package source

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/haproxy-agent/agent/rules"
)

// page parses a scraped /metrics page, Prometheus text or OpenMetrics.
//
// expfmt builds a protobuf message per series, which costs ~15 ms for a
// 10,000-series page (and its OpenMetrics parser is far slower), while a
// rule file reads a few dozen series. So page first scans the bytes once:
// comment lines go, sample lines whose series name no metric can select go
// (after a cheap syntax check, so that a garbage page still fails), and
// only the remaining lines, cut after their value, are handed to expfmt's
// text parser. Without TYPE lines every series parses as untyped under the
// name it has on the page, which is exactly how Prometheus stores it:
// x_bucket{le="0.5"}, x_sum, x_count, x{quantile="0.99"}, x_total.
//
// A page is used by one goroutine at a time; its buffers are reused.
type page struct {
	parser expfmt.TextParser
	rd     bytes.Reader
	kept   []byte
	lines  []int // lines[i] is the page line number of kept line i+1
	filter nameFilter
}

func newPage() *page {
	return &page{parser: expfmt.NewTextParser(model.UTF8Validation)}
}

// parse returns the page's series that metrics may select, by name.
func (p *page) parse(body []byte, openMetrics bool, metrics []*rules.Metric) (map[string]*dto.MetricFamily, error) {
	p.filter.prepare(metrics)
	p.kept, p.lines = p.kept[:0], p.lines[:0]
	sawEOF := false
	for n := 1; len(body) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil // no trailing newline: fine
		}
		line = bytes.TrimLeft(line, " \t")
		if len(line) == 0 {
			continue
		}
		if line[0] == '#' {
			if openMetrics && isEOF(line) {
				sawEOF = true
				break
			}
			continue
		}
		name, end, ok := splitSample(line)
		if ok {
			if name != nil && !p.filter.wants(name, line) {
				continue
			}
			// Timestamps and exemplars are not needed, and OpenMetrics
			// writes them in a syntax the text parser rejects.
			line = line[:end]
		}
		// A line that did not split is kept so that expfmt reports it.
		p.kept = append(p.kept, line...)
		p.kept = append(p.kept, '\n')
		p.lines = append(p.lines, n)
	}
	if openMetrics && !sawEOF {
		return nil, errors.New("openmetrics page does not end with # EOF")
	}
	p.rd.Reset(p.kept)
	fams, err := p.parser.TextToMetricFamilies(&p.rd)
	if err != nil {
		var pe expfmt.ParseError
		if errors.As(err, &pe) {
			line := pe.Line
			if line >= 1 && line <= len(p.lines) {
				line = p.lines[line-1]
			}
			return nil, fmt.Errorf("parse error at line %d: %s", line, pe.Msg)
		}
		return nil, fmt.Errorf("parse error: %w", err)
	}
	return fams, nil
}

func isEOF(line []byte) bool {
	return bytes.Equal(bytes.TrimRight(line, " \t\r"), []byte("# EOF"))
}

// splitSample finds a sample line's series name and the end of its value.
// The name is nil when the line uses the quoted {"name",...} form. ok is
// false when the line does not look like a sample.
func splitSample(line []byte) (name []byte, end int, ok bool) {
	i := 0
	if line[0] != '{' {
		for i < len(line) && isNameByte(line[i], i == 0) {
			i++
		}
		if i == 0 {
			return nil, 0, false
		}
		name = line[:i]
	}
	if i < len(line) && line[i] == '{' {
		j := labelsEnd(line, i)
		if j < 0 {
			return nil, 0, false
		}
		i = j
	}
	k := i
	for k < len(line) && (line[k] == ' ' || line[k] == '\t') {
		k++
	}
	if k == i || k == len(line) {
		return nil, 0, false
	}
	v := k
	for k < len(line) && line[k] != ' ' && line[k] != '\t' {
		k++
	}
	if _, err := strconv.ParseFloat(string(line[v:k]), 64); err != nil {
		return nil, 0, false
	}
	return name, k, true
}

func isNameByte(b byte, first bool) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_' || b == ':' || !first && b >= '0' && b <= '9'
}

// labelsEnd returns the index just past the '}' closing the label set that
// opens at line[open], or -1.
func labelsEnd(line []byte, open int) int {
	quoted := false
	for i := open + 1; i < len(line); i++ {
		switch c := line[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '}':
			return i + 1
		}
	}
	return -1
}

// nameFilter says which series names the metrics of a read may select.
type nameFilter struct {
	built   []*rules.Metric
	all     bool                  // a metric selects by labels only
	names   map[string][][][]byte // names selected by equality → per metric, the quoted label values a line must hold
	others  [][]*labels.Matcher   // other __name__ matchers, per metric
	decided map[string]bool       // cache of names tested against others
}

// maxDecided bounds the cache of names tested against regular expressions.
const maxDecided = 100_000

func (f *nameFilter) prepare(metrics []*rules.Metric) {
	if sameMetrics(f.built, metrics) {
		return
	}
	*f = nameFilter{built: append([]*rules.Metric(nil), metrics...), names: map[string][][][]byte{}, decided: map[string]bool{}}
	for _, m := range metrics {
		var ms []*labels.Matcher
		for _, l := range m.Matchers {
			if l.Name == model.MetricNameLabel {
				ms = append(ms, l)
			}
		}
		switch {
		case len(ms) == 0:
			f.all = true
		case len(ms) == 1 && ms[0].Type == labels.MatchEqual:
			f.names[ms[0].Value] = append(f.names[ms[0].Value], quotedValues(m))
		default:
			f.others = append(f.others, ms)
		}
	}
}

func (f *nameFilter) wants(name, line []byte) bool {
	if f.all {
		return true
	}
	for _, needs := range f.names[string(name)] {
		if containsAll(line, needs) {
			return true
		}
	}
	if len(f.others) == 0 {
		return false
	}
	if w, ok := f.decided[string(name)]; ok {
		return w
	}
	s := string(name)
	w := false
	for _, ms := range f.others {
		if matchAll(ms, s) {
			w = true
			break
		}
	}
	if len(f.decided) >= maxDecided {
		clear(f.decided)
	}
	f.decided[s] = w
	return w
}

// quotedValues lists, for the equality matchers of m on labels, the value
// as it must appear on a matching line: between double quotes. Values that
// the page would escape are left out, so the test never rejects a line
// that matches.
func quotedValues(m *rules.Metric) [][]byte {
	var qs [][]byte
	for _, l := range m.Matchers {
		if l.Name == model.MetricNameLabel || l.Type != labels.MatchEqual || l.Value == "" ||
			strings.ContainsAny(l.Value, "\\\"\n") {
			continue
		}
		qs = append(qs, []byte(`"`+l.Value+`"`))
	}
	return qs
}

func containsAll(line []byte, needs [][]byte) bool {
	for _, n := range needs {
		if !bytes.Contains(line, n) {
			return false
		}
	}
	return true
}

func matchAll(ms []*labels.Matcher, v string) bool {
	for _, m := range ms {
		if !m.Matches(v) {
			return false
		}
	}
	return true
}

func sameMetrics(a, b []*rules.Metric) bool {
	if len(a) != len(b) || a == nil {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
