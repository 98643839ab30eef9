package ruletest

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/haproxy-agent/agent/internal/fileio"
	"github.com/haproxy-agent/agent/internal/yamlnode"
	"github.com/haproxy-agent/agent/rules"
)

// MaxSteps caps the evaluations one test may ask for (the last `at` over
// the evaluation interval), so that a test cannot run for ever.
const MaxSteps = 1000000

// LoadFile reads the test file at path, loads the rule file it names
// (relative to the test file's directory) with rules.ParseFile, and checks
// the tests against it. On failure the error is rules.Errors: the test
// file's problems in file order, then, when the rule file does not load,
// the rule file's own.
func LoadFile(path string) (*Suite, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	s, w := parse(data, path)
	if s == nil {
		return nil, w.sorted()
	}
	var ruleErrs rules.Errors
	if len(s.RuleFiles) == 1 {
		rf, errs := loadRules(w, s)
		ruleErrs = errs
		if rf != nil {
			s.bind(w, rf)
		}
	}
	if len(w.errs) > 0 {
		return nil, append(w.sorted(), ruleErrs...)
	}
	return s, nil
}

// readFile reads a test file as rules.ReadFile reads a rule file: a
// regular file of at most MaxFileSize bytes, refusing anything else
// without blocking.
func readFile(path string) ([]byte, error) {
	data, err := fileio.ReadFile(path, MaxFileSize)
	var tl *fileio.TooLargeError
	switch {
	case errors.As(err, &tl):
		return nil, fmt.Errorf("%s: test file too large: %d bytes, the limit is %s", path, tl.Size, fileio.FormatSize(MaxFileSize))
	case err != nil:
		return nil, fmt.Errorf("read test file: %w", err)
	}
	return data, nil
}

// RulePath is where the rule file name of a test file is looked for:
// relative names are taken from the test file's directory.
func RulePath(testFile, ruleFile string) string {
	if filepath.IsAbs(ruleFile) {
		return ruleFile
	}
	return filepath.Join(filepath.Dir(testFile), ruleFile)
}

// loadRules loads the suite's rule file. A rule file that does not load is
// reported at its entry in rule_files; its own errors are returned to be
// listed after the test file's.
func loadRules(w *walker, s *Suite) (*rules.File, rules.Errors) {
	name, pos := s.RuleFiles[0], s.ruleFilesPos[0]
	path := RulePath(s.Path, name)
	rf, err := rules.ParseFile(path)
	if err == nil {
		return rf, nil
	}
	var errs rules.Errors
	switch {
	case errors.Is(err, fs.ErrNotExist):
		w.errAt(pos, "rule_files: rule file %q not found (looked for %s)", name, path)
	case errors.As(err, &errs):
		w.errAt(pos, "rule_files: rule file %q does not load: %s", name, count(len(errs), "error"))
	default:
		w.errAt(pos, "rule_files: rule file %q: %v", name, err)
	}
	return nil, errs
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Bind checks a parsed suite against its loaded rule file and fills in the
// defaults taken from it (evaluation and series intervals). On failure the
// error is rules.Errors positioned in the test file.
func (s *Suite) Bind(rf *rules.File) error {
	w := &walker{file: s.Path}
	s.bind(w, rf)
	if len(w.errs) > 0 {
		return w.sorted()
	}
	return nil
}

func (s *Suite) bind(w *walker, rf *rules.File) {
	s.Rules = rf
	if s.EvaluationInterval == 0 {
		s.EvaluationInterval = rf.Interval
	}
	metrics := make([]string, len(rf.Metrics))
	for i, m := range rf.Metrics {
		metrics[i] = m.Name
	}
	services := make([]string, len(rf.Services))
	for i, svc := range rf.Services {
		services[i] = svc.Name
	}
	for _, t := range s.Tests {
		if t.Interval == 0 {
			t.Interval = s.EvaluationInterval
		}
		var end time.Duration
		for _, sr := range t.Series {
			if rf.Metric(sr.Metric) == nil {
				w.errAt(sr.Pos, "input_series: unknown metric %q: not declared in %s%s", sr.Metric, rf.Path, hint(sr.Metric, metrics, "its metrics"))
				continue
			}
			end = max(end, time.Duration(len(sr.Samples)-1)*t.Interval)
		}
		bindServers(w, rf, t)
		for _, x := range t.Expect {
			s.bindExpectation(w, rf, t, x, end, services)
		}
	}
}

// bindExpectation checks one expectation's time, service and rule names.
func (s *Suite) bindExpectation(w *walker, rf *rules.File, t *Test, x *Expectation, end time.Duration, services []string) {
	eval := s.EvaluationInterval
	switch {
	case x.At%eval != 0:
		w.errAt(x.atPos, "at %s is not a multiple of the evaluation interval %s", fmtDur(x.At), fmtDur(eval))
	case x.At > end:
		w.errAt(x.atPos, "at %s is beyond the input series, which end at %s (%s × interval %s)",
			fmtDur(x.At), fmtDur(end), count(int(end/t.Interval)+1, "sample"), fmtDur(t.Interval))
	case x.At/eval > MaxSteps:
		w.errAt(x.atPos, "at %s takes %d evaluations of %s; the limit is %d", fmtDur(x.At), x.At/eval, fmtDur(eval), MaxSteps)
	}
	if !bindServer(w, rf, t, x) {
		return
	}
	svc := rf.Service(x.Service)
	if svc == nil {
		w.errAt(x.servicePos, "service: unknown service %q in %s%s", x.Service, rf.Path, hint(x.Service, services, "its services"))
		return
	}
	names := make([]string, len(svc.Rules))
	for i, r := range svc.Rules {
		names[i] = r.Name
	}
	check := func(field string, list []string, pos []rules.Pos) {
		for i, n := range list {
			if !slices.Contains(names, n) {
				w.errAt(pos[i], "%s: service %s has no rule %q%s", field, svc.Name, n, hint(n, names, "its rules"))
			}
		}
	}
	check("firing", x.Firing, x.firingPos)
	check("pending", x.Pending, x.pendingPos)
}

// hint ends a message about an unknown name: the likely typo it is, or
// the valid names (what says whose, e.g. "its metrics").
func hint(word string, names []string, what string) string {
	if s := yamlnode.DidYouMean(word, names); s != "" {
		return s
	}
	if len(names) == 0 {
		return " (" + what + ": none)"
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	const most = 10
	q := make([]string, 0, most)
	for i, n := range sorted {
		if i == most {
			q = append(q, "...")
			break
		}
		q = append(q, fmt.Sprintf("%q", n))
	}
	return " (" + what + ": " + strings.Join(q, ", ") + ")"
}

// fmtDur renders d as test files write durations (1m30s, 500ms).
func fmtDur(d time.Duration) string { return model.Duration(d).String() }
