// Package ruletest runs unit tests of rule files, in the manner of
// `promtool test rules`: a test file feeds made-up metric series to the rules
// of a rule file on a simulated clock and states what the reply must be at
// chosen times.
//
// Nothing here re-implements the agent's semantics: rule files are loaded
// with rules.ParseFile, values pass through the same collect.Holder as in
// `agent serve` (so stale_after and on_missing behave as live), and replies
// come from the same evaluator.
package ruletest

import (
	"time"

	"github.com/haproxy-agent/agent/rules"
)

// Suite is one loaded test file: the rule file under test and its tests.
type Suite struct {
	// Path is the name the test file was loaded under, as used in messages.
	Path string
	// RuleFiles are the rule files as written in the file, relative to it.
	RuleFiles []string
	// Rules is the rule file under test, set by Bind (LoadFile binds).
	Rules *rules.File
	// EvaluationInterval is the step of the simulated clock; zero in a
	// parsed file that leaves it to the rule file's interval.
	EvaluationInterval time.Duration
	Tests              []*Test

	// Positions kept for the checks that need the rule file.
	ruleFilesPos []rules.Pos
	evalPos      rules.Pos
}

// Test is one named scenario: input series and what must come out.
type Test struct {
	Name string
	// Interval is the step between two samples of every input series; zero
	// in a parsed file that leaves it to the evaluation interval.
	Interval time.Duration
	// Series holds the input series in file order.
	Series []*Series
	// Expect holds the checks in file order.
	Expect []*Expectation
	// Servers, for a fleet rule file, are the servers known throughout the
	// test; nil takes the rule file's static servers, or else every server
	// an input series names.
	Servers []string
	Pos     rules.Pos

	intervalPos rules.Pos
}

// Series is the input of one metric: one sample per test interval, from
// time 0.
type Series struct {
	// Metric is the name of a metric declared in the rule file.
	Metric string
	// Label and Server, for a fleet rule file, make the series one
	// server's: written metric{label="server"}. Empty for a series shared
	// by every server.
	Label, Server string
	Samples       []Sample
	Pos           rules.Pos
}

// Sample is one point of a series.
type Sample struct {
	Value float64
	// Omitted is true for `_`: the source failed at that time.
	Omitted bool
}

// Expectation is what the reply for one service must be at one time. Only
// the parts that are set are compared.
type Expectation struct {
	// At is the time since the start of the test; a multiple of the
	// evaluation interval.
	At time.Duration
	// Service is the service whose reply is checked (rules.DefaultService
	// when the file names none).
	Service string
	// Server is the fleet server whose reply is checked; fleet rule files
	// only.
	Server string
	// Held, when set, checks whether the guardrail holds the server.
	Held *bool
	// Reply is the whole reply line, ending in "\n".
	Reply *string
	// Phase is acting, restoring or quiet.
	Phase *string
	Op    *string
	Admin *string
	// Weight is the weight percent.
	Weight *int
	// Maxconn is the maxconn sent, or rules.Unset for a reply that carries
	// none.
	Maxconn *int
	// Firing and Pending are the exact lists of firing (pending) rule
	// names, in file order; nil leaves them unchecked.
	Firing  []string
	Pending []string
	Pos     rules.Pos

	atPos, servicePos     rules.Pos
	serverPos             rules.Pos
	hasService            bool
	firingPos, pendingPos []rules.Pos
}
