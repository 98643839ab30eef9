package ruletest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/yamlnode"
	"github.com/haproxy-agent/agent/rules"
)

// MaxFileSize is the largest test file accepted, in bytes.
const MaxFileSize = 4 << 20

// MaxExpanded caps a test file's size once its aliases are expanded, as
// yamlnode.Size measures it: a file without aliases measures at most about
// twice its size, so only aliases that multiply the work reach the cap.
const MaxExpanded = 4 * MaxFileSize

// The keys each part of a test file may have.
var (
	suiteKeys  = []string{"rule_files", "evaluation_interval", "tests"}
	testKeys   = []string{"name", "interval", "servers", "input_series", "expect"}
	expectKeys = []string{"at", "service", "reply", "phase", "op", "admin", "weight", "maxconn", "firing", "pending", "server", "held"}
)

// The words an expectation may name, as the evaluator writes them.
var (
	phaseWords = []string{string(evaluator.Acting), string(evaluator.Restoring), string(evaluator.Quiet)}
)

// walker collects every problem of one test file while walking its nodes.
type walker struct {
	file  string
	lines []string
	errs  rules.Errors
}

// entry is one key and its value in a mapping, aliases followed.
type entry = yamlnode.Pair

// Parse parses a test file held in data; name is used in messages. It checks
// the file's shape and series notation only: Bind then checks it against the
// rule file. On failure the error is rules.Errors with every problem, in file
// order.
func Parse(data []byte, name string) (*Suite, error) {
	s, w := parse(data, name)
	if len(w.errs) > 0 {
		return nil, w.sorted()
	}
	return s, nil
}

// parse walks the file as far as it can: the suite it returns holds every
// part that parsed, so that LoadFile can check those against the rule file
// and report all problems at once. The suite is nil when the file is not a
// YAML mapping.
func parse(data []byte, name string) (*Suite, *walker) {
	w := &walker{file: name, lines: yamlnode.Lines(data)}
	if len(data) > MaxFileSize {
		w.errAt(rules.Pos{Line: 1, Col: 1}, "test file too large: %d bytes, the limit is %d", len(data), MaxFileSize)
		return nil, w
	}
	root := w.document(data)
	if root == nil {
		return nil, w
	}
	s := &Suite{Path: name}
	w.suite(s, root)
	return s, w
}

func posOf(n *yaml.Node) rules.Pos { return rules.Pos{Line: n.Line, Col: n.Column} }

func (w *walker) errAt(pos rules.Pos, format string, args ...any) {
	w.errs = append(w.errs, &rules.Error{File: w.file, Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (w *walker) errorf(n *yaml.Node, format string, args ...any) {
	w.errAt(posOf(n), format, args...)
}

// sorted returns the problems in file order, each once (a node reached
// through several aliases is reported once), as rules reports them.
func (w *walker) sorted() rules.Errors {
	w.errs = w.errs.Sorted()
	return w.errs
}

// report is the reporter of yamlnode's walker for this file; prefix comes
// before each message.
func (w *walker) report(prefix string) yamlnode.Report {
	return func(at *yaml.Node, msg string) { w.errorf(at, "%s%s", prefix, msg) }
}

// document decodes data into its top-level mapping, or reports why not,
// as rules reads a rule file (yamlnode.Document).
func (w *walker) document(data []byte) (root *yaml.Node) {
	start := rules.Pos{Line: 1, Col: 1}
	root, extra, err := yamlnode.Document(data)
	switch {
	case err != nil:
		line, col, msg := yamlnode.ErrorPos(err, data, w.lines)
		w.errAt(rules.Pos{Line: line, Col: col}, "%s", msg)
		return nil
	case extra != nil:
		w.errorf(extra, "a test file holds one YAML document; remove this second one")
		return nil
	case root == nil:
		w.errAt(start, "empty test file: write rule_files and tests")
		return nil
	}
	// Aliases are followed: the walk must stay bounded however they nest.
	if _, ok := yamlnode.Size(root, MaxExpanded); !ok {
		w.errAt(start, "test file too large once its aliases are expanded: the limit is %d (nodes plus the bytes of values)", MaxExpanded)
		return nil
	}
	if root.Kind != yaml.MappingNode {
		w.errorf(root, "a test file is a mapping with the keys %s, not %s", strings.Join(suiteKeys, ", "), yamlnode.KindName(root))
		return nil
	}
	return root
}

// fields returns a mapping's entries by key, reporting keys that are
// unknown, not strings or given twice: see yamlnode.Fields.
func (w *walker) fields(n *yaml.Node, known []string) map[string]entry {
	return yamlnode.Fields(n, known, w.report(""))
}

// scalar returns the text of a key's single value.
func (w *walker) scalar(e entry) (string, bool) {
	return yamlnode.Scalar(e, w.report(""))
}

// list returns the items of a key's list value, aliases followed; null is
// an empty list.
func (w *walker) list(e entry) ([]*yaml.Node, bool) {
	return yamlnode.List(e, w.report(""))
}

// duration reads a key's value as a Prometheus-style duration greater than 0
// (or ≥ 0 when zeroOK).
func (w *walker) duration(e entry, zeroOK bool) (time.Duration, bool) {
	s, ok := w.scalar(e)
	if !ok {
		return 0, false
	}
	d, err := model.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		w.errorf(e.Val, "%s: bad duration %q: want a number and a unit, such as 5s or 1m30s", e.Key.Value, s)
		return 0, false
	}
	if d == 0 && !zeroOK {
		w.errorf(e.Val, "%s: must be greater than 0", e.Key.Value)
		return 0, false
	}
	return time.Duration(d), true
}

// suite walks the top-level mapping.
func (w *walker) suite(s *Suite, root *yaml.Node) {
	fs := w.fields(root, suiteKeys)
	if e, ok := fs["rule_files"]; !ok {
		w.errAt(rules.Pos{Line: 1, Col: 1}, "missing rule_files: name the rule file under test, e.g. rule_files: [rules.yaml]")
	} else if items, ok := w.list(e); ok {
		for _, n := range items {
			if n.Kind != yaml.ScalarNode || yamlnode.IsNull(n) || strings.TrimSpace(n.Value) == "" {
				w.errorf(n, "rule_files: want a file name, got %s", yamlnode.KindName(n))
				continue
			}
			s.RuleFiles = append(s.RuleFiles, n.Value)
			s.ruleFilesPos = append(s.ruleFilesPos, posOf(n))
		}
		switch {
		case len(items) == 0:
			w.errorf(e.Key, "rule_files: name the rule file under test")
		case len(items) > 1:
			w.errorf(items[1], "rule_files: a test file tests one rule file; write one test file per rule file")
		}
	}
	if e, ok := fs["evaluation_interval"]; ok {
		if d, ok := w.duration(e, false); ok {
			s.EvaluationInterval, s.evalPos = d, posOf(e.Val)
		}
	}
	e, ok := fs["tests"]
	if !ok {
		w.errAt(rules.Pos{Line: 1, Col: 1}, "missing tests: write at least one test")
		return
	}
	items, ok := w.list(e)
	if ok && len(items) == 0 {
		w.errorf(e.Key, "tests: write at least one test")
	}
	names := make(map[string]rules.Pos)
	for _, n := range items {
		if n.Kind != yaml.MappingNode {
			w.errorf(n, "tests: want a test (a mapping with name, input_series and expect), got %s", yamlnode.KindName(n))
			continue
		}
		t := w.test(n)
		if t.Name == "" {
			continue
		}
		if first, dup := names[t.Name]; dup {
			w.errAt(t.Pos, "duplicate test name %q (first at %d:%d)", t.Name, first.Line, first.Col)
			continue
		}
		names[t.Name] = t.Pos
		s.Tests = append(s.Tests, t)
	}
}

// test walks one test.
func (w *walker) test(n *yaml.Node) *Test {
	t := &Test{Pos: posOf(n)}
	fs := w.fields(n, testKeys)
	if e, ok := fs["name"]; !ok {
		w.errorf(n, "test: missing name")
	} else if s, ok := w.scalar(e); ok {
		t.Name, t.Pos = s, posOf(e.Val)
	}
	if e, ok := fs["interval"]; ok {
		if d, ok := w.duration(e, false); ok {
			t.Interval, t.intervalPos = d, posOf(e.Val)
		}
	}
	if e, ok := fs["servers"]; ok {
		if items, ok := w.list(e); ok {
			t.Servers = []string{}
			for _, n := range items {
				if n.Kind != yaml.ScalarNode || !rules.ServerName(n.Value) {
					w.errorf(n, "servers: want a server name, got %q", n.Value)
					continue
				}
				t.Servers = append(t.Servers, n.Value)
			}
			slices.Sort(t.Servers)
			t.Servers = slices.Compact(t.Servers)
		}
	}
	if e, ok := fs["input_series"]; ok && !yamlnode.IsNull(e.Val) {
		if e.Val.Kind != yaml.MappingNode {
			w.errorf(e.Val, "input_series: want a mapping of metric name to series, got %s", yamlnode.KindName(e.Val))
		} else {
			w.series(t, e.Val)
		}
	}
	e, ok := fs["expect"]
	if !ok {
		w.errorf(n, "test %q: missing expect: say what the reply must be, and when", t.Name)
		return t
	}
	items, ok := w.list(e)
	if ok && len(items) == 0 {
		w.errorf(e.Key, "test %q: expect: write at least one check", t.Name)
	}
	for _, x := range items {
		if x.Kind != yaml.MappingNode {
			w.errorf(x, "expect: want a check (a mapping with at and what to compare), got %s", yamlnode.KindName(x))
			continue
		}
		if ex := w.expectation(x); ex != nil {
			t.Expect = append(t.Expect, ex)
		}
	}
	return t
}

// series walks input_series.
func (w *walker) series(t *Test, n *yaml.Node) {
	for _, e := range yamlnode.Entries(n, "metric", w.report("input_series: ")) {
		k, v := e.Key, e.Val
		name, label, server, ok := serverSeries(k.Value)
		if !ok {
			w.errorf(k, `input_series: %q: want a metric name, or a fleet server's series written name{label="server"}`, k.Value)
			continue
		}
		if v.Kind != yaml.ScalarNode || yamlnode.IsNull(v) || strings.TrimSpace(v.Value) == "" {
			w.errorf(v, "input_series: %s: want a series such as '1+1x10' or '0.5 _ 0.7', got %s", k.Value, yamlnode.KindName(v))
			continue
		}
		samples, err := parseSeries(v.Value)
		if err != nil {
			pos := posOf(v)
			if err.offset >= 0 {
				if p, ok := w.innerPos(v, err.offset); ok {
					pos = p
				}
			}
			w.errAt(pos, "input_series: %s: %s", k.Value, err.msg)
			continue
		}
		t.Series = append(t.Series, &Series{Metric: name, Label: label, Server: server, Samples: samples, Pos: posOf(k)})
	}
}

var serverSeriesRe = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"]*)"\s*,?\s*\})?\s*$`)

// serverSeries splits an input_series key: a metric name, or one fleet
// server's series, name{label="server"}.
func serverSeries(key string) (name, label, server string, ok bool) {
	m := serverSeriesRe.FindStringSubmatch(key)
	if m == nil {
		return "", "", "", false
	}
	return m[1], m[2], m[3], true
}

// expectation walks one check of expect.
func (w *walker) expectation(n *yaml.Node) *Expectation {
	fs := w.fields(n, expectKeys)
	x := &Expectation{Service: rules.DefaultService, Pos: posOf(n), atPos: posOf(n), servicePos: posOf(n)}
	ok := true
	if e, has := fs["at"]; !has {
		w.errorf(n, "expect: missing at: the time of the check, such as 10s")
		ok = false
	} else if d, good := w.duration(e, true); good {
		x.At, x.atPos = d, posOf(e.Val)
	} else {
		ok = false
	}
	if e, has := fs["service"]; has {
		if s, good := w.scalar(e); good {
			x.Service, x.servicePos, x.hasService = s, posOf(e.Val), true
		}
	}
	if e, has := fs["server"]; has {
		if s, good := w.scalar(e); good {
			x.Server, x.serverPos = s, posOf(e.Val)
		}
	}
	checks := 0
	if e, has := fs["held"]; has {
		checks++
		if s, good := w.scalar(e); good {
			switch s {
			case "true", "false":
				b := s == "true"
				x.Held = &b
			default:
				w.errorf(e.Val, "held: want true or false, got %q", s)
			}
		}
	}
	if e, has := fs["reply"]; has {
		checks++
		if s, good := w.scalar(e); good {
			if !strings.HasSuffix(s, "\n") {
				s += "\n"
			}
			x.Reply = &s
		}
	}
	if e, has := fs["phase"]; has {
		checks++
		x.Phase = w.word(e, phaseWords)
	}
	if e, has := fs["op"]; has {
		checks++
		x.Op = w.word(e, rules.OpWords)
	}
	if e, has := fs["admin"]; has {
		checks++
		x.Admin = w.word(e, rules.AdminWords)
	}
	if e, has := fs["weight"]; has {
		checks++
		if s, good := w.scalar(e); good {
			v, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")))
			if err != nil || v < 0 || v > rules.MaxWeight {
				w.errorf(e.Val, "weight: want a percent from 0 to %d, such as 50 or 50%%, got %q", rules.MaxWeight, s)
			} else {
				x.Weight = &v
			}
		}
	}
	if e, has := fs["maxconn"]; has {
		checks++
		if s, good := w.scalar(e); good {
			v, err := strconv.Atoi(strings.TrimSpace(s))
			switch {
			case strings.TrimSpace(s) == "none":
				v = rules.Unset
				x.Maxconn = &v
			case err != nil || v < 0:
				w.errorf(e.Val, "maxconn: want a number ≥ 0, or none for a reply without maxconn, got %q", s)
			default:
				x.Maxconn = &v
			}
		}
	}
	if e, has := fs["firing"]; has {
		checks++
		x.Firing, x.firingPos = w.names(e)
	}
	if e, has := fs["pending"]; has {
		checks++
		x.Pending, x.pendingPos = w.names(e)
	}
	if checks == 0 {
		w.errorf(n, "expect: the check compares nothing: give reply, phase, op, admin, weight, maxconn, firing, pending or held")
	}
	if !ok {
		return nil
	}
	return x
}

// word reads a key's value as one of words.
func (w *walker) word(e entry, words []string) *string {
	s, ok := w.scalar(e)
	if !ok {
		return nil
	}
	if !slices.Contains(words, s) {
		w.errorf(e.Val, "%s: want one of %s, got %q", e.Key.Value, strings.Join(words, ", "), s)
		return nil
	}
	return &s
}

// names reads a list of rule names; the result is never nil, so that an
// empty list still checks that no rule is in that state.
func (w *walker) names(e entry) ([]string, []rules.Pos) {
	items, ok := w.list(e)
	out, pos := []string{}, []rules.Pos{}
	if !ok {
		return out, pos
	}
	for _, n := range items {
		if n.Kind != yaml.ScalarNode || yamlnode.IsNull(n) {
			w.errorf(n, "%s: want a rule name, got %s", e.Key.Value, yamlnode.KindName(n))
			continue
		}
		out = append(out, n.Value)
		pos = append(pos, posOf(n))
	}
	return out, pos
}

// innerPos maps a byte offset inside a one-line scalar's value to its
// position in the file, when the value is written verbatim there (plain or
// quoted without escapes); ok is false when the column would be a guess.
func (w *walker) innerPos(n *yaml.Node, off int) (rules.Pos, bool) {
	if n.Line < 1 || n.Line > len(w.lines) {
		return rules.Pos{}, false
	}
	col, ok := yamlnode.ValueCol(yamlnode.Line(w.lines, n.Line), n, off)
	if !ok {
		return rules.Pos{}, false
	}
	return rules.Pos{Line: n.Line, Col: col}, true
}
