package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/haproxy-agent/agent/rules"
)

// page parses a scraped /metrics page, Prometheus text or OpenMetrics,
// with Prometheus' own scrape parser (textparse): the same syntax, sample
// timestamps and exemplars Prometheus accepts. A page usually holds many
// more series than a rule file reads, so the labels of a series are built
// only when its name (and the label values its selectors require) could
// match; the other series cost one pass of the lexer.
//
// Lines may end in CRLF: they are read as if they ended in LF.
//
// A page is used by one goroutine at a time.
type page struct {
	filter nameFilter
	series map[string][]series
	lf     []byte
}

// series is one sample of the page.
type series struct {
	lset labels.Labels
	v    float64
	// ts is the sample's timestamp in milliseconds since the epoch, when
	// hasTS.
	ts    int64
	hasTS bool
}

func newPage() *page {
	return &page{series: map[string][]series{}}
}

// parse returns the page's series that metrics may select, by name. The
// map is reused by the next parse.
func (p *page) parse(body []byte, openMetrics bool, metrics []*rules.Metric) (map[string][]series, error) {
	p.filter.prepare(metrics)
	clear(p.series)
	if bytes.Contains(body, []byte("\r\n")) {
		p.lf = append(p.lf[:0], body...)
		p.lf = bytes.ReplaceAll(p.lf, []byte("\r\n"), []byte("\n"))
		body = p.lf
	}
	// textparse takes a NUL byte for the end of the page, and would read a
	// binary body as an empty page.
	if i := bytes.IndexByte(body, 0); i >= 0 {
		return nil, fmt.Errorf("parse error at line %d: NUL byte: not a text page", bytes.Count(body[:i], []byte("\n"))+1)
	}
	contentType := "text/plain"
	if openMetrics {
		contentType = "application/openmetrics-text"
		if !bytes.HasSuffix(bytes.TrimRight(body, " \t\n"), []byte("# EOF")) {
			return nil, errors.New("openmetrics page does not end with # EOF")
		}
	}
	tp, err := textparse.New(body, contentType, labels.NewSymbolTable(), textparse.ParserOptions{})
	if tp == nil {
		return nil, fmt.Errorf("parse error: %w", err)
	}
	for entries := 0; ; entries++ {
		e, err := tp.Next()
		if errors.Is(err, io.EOF) {
			return p.series, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parse error at line %d: %s", nonBlankLine(body, entries+1), shorten(err.Error(), 160))
		}
		if e != textparse.EntrySeries {
			continue
		}
		raw, ts, v := tp.Series()
		raw = bytes.TrimLeft(raw, " \t")
		var lset labels.Labels
		name := raw
		switch i := bytes.IndexByte(raw, '{'); {
		case i == 0:
			// The quoted {"name", ...} form: the labels say the name.
			tp.Labels(&lset)
			name = []byte(lset.Get(model.MetricNameLabel))
		case i > 0:
			name = raw[:i]
		}
		if !p.filter.wants(name, raw) {
			continue
		}
		if lset.IsEmpty() {
			tp.Labels(&lset)
		}
		if n := lset.Get(model.MetricNameLabel); n != string(name) && strings.TrimLeft(n, " \t") == string(name) {
			// textparse keeps the blanks that indent a line in the name.
			lset = labels.NewBuilder(lset).Set(model.MetricNameLabel, string(name)).Labels()
		}
		s := series{lset: lset, v: v}
		if ts != nil {
			s.ts, s.hasTS = *ts, true
		}
		p.series[string(name)] = append(p.series[string(name)], s)
	}
}

// nonBlankLine returns the number of the page line that is its nth line
// holding more than blanks: the parser skips blank lines and reads one
// line per entry, so this is where the entry after n-1 good ones lies.
func nonBlankLine(body []byte, n int) int {
	line := 0
	for len(body) > 0 {
		line++
		l := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			l, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if len(bytes.Trim(l, " \t")) > 0 {
			if n--; n == 0 {
				return line
			}
		}
	}
	return line + 1
}

// shorten cuts s to at most n bytes, marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
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
