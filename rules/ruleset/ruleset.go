// Package ruleset is the compiled rule file: the sources, metrics,
// services, rules and reply settings that package rules builds from a file
// and that the evaluator reads. It holds the model and its small methods
// only. Reading, checking and compiling files, and each source kind's
// settings (Source.Config), stay in package rules, so that what evaluates
// rules links in no parser, HTTP client or PromQL.
package ruleset

import (
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/prometheus/prometheus/model/labels"
)

// DefaultService is the name under which the top-level rules are shown and
// selected: polls that send no agent-send line get it.
const DefaultService = "default"

// HostSource is the predeclared source of the host's own metrics.
const HostSource = "host"

// File is a loaded rule file. It is immutable once Parse returns it, so it
// may be shared between goroutines and swapped atomically as a whole.
type File struct {
	// Path is the name the file was loaded under, as used in messages.
	Path string
	// Hash is the hex SHA-256 of the file's bytes.
	Hash string
	// Interval is the evaluation cadence (default 5s).
	Interval time.Duration
	// StaleAfter is how long a last good value outlives failed reads
	// (default 3 × Interval).
	StaleAfter time.Duration
	// Sources holds every source, the predeclared host source first, then
	// the file's in file order.
	Sources []*Source
	// Metrics holds the declared metrics in file order; Metrics[i].Index == i.
	Metrics []*Metric
	// Services holds the default service first (the top-level rules), then
	// the services of `services:` in file order.
	Services []*Service
	// Reply holds what is sent when no rule fires and the weight floor.
	Reply Reply
	// Fleet is set in fleet mode: the top-level rules are evaluated once
	// per server, and Services holds only the default service.
	Fleet *Fleet
}

// Service returns the service of that name, or nil. The empty name is the
// default service.
func (f *File) Service(name string) *Service {
	if name == "" {
		name = DefaultService
	}
	for _, s := range f.Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Metric returns the metric of that name, or nil.
func (f *File) Metric(name string) *Metric {
	for _, m := range f.Metrics {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Source returns the source of that name, or nil.
func (f *File) Source(name string) *Source {
	for _, s := range f.Sources {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// RuleCount is the number of rules over all services.
func (f *File) RuleCount() int {
	n := 0
	for _, s := range f.Services {
		n += len(s.Rules)
	}
	return n
}

// SourceKind says how a source is read: each kind is defined, with its
// settings and checks, in package rules (its source_KIND.go file).
type SourceKind string

// Source is one place metric values are read from.
type Source struct {
	Name string
	Kind SourceKind
	// Timeout bounds one read of the source, connection to last byte.
	Timeout time.Duration
	// Config is the kind's own settings (rules.ScrapeConfig,
	// rules.HTTPConfig...), each beside its kind's checks in package rules.
	Config any
	Pos    Pos
}

// Aggregation names how several matching series are reduced to one value.
type Aggregation string

// The aggregations; None means that several matching series make the metric missing.
const (
	AggNone  Aggregation = ""
	AggSum   Aggregation = "sum"
	AggMin   Aggregation = "min"
	AggMax   Aggregation = "max"
	AggAvg   Aggregation = "avg"
	AggCount Aggregation = "count"
)

// Metric is a name that rule expressions use, bound to a value in a source.
type Metric struct {
	Name string
	// Index is the metric's position in File.Metrics.
	Index int
	// Source is the name of the source the value comes from.
	Source string
	// Selector is the PromQL series selector (scrape sources) or the host
	// metric's name (host source).
	Selector string
	// Matchers are Selector's parsed label matchers, including __name__ when
	// the selector names a metric (scrape sources only).
	Matchers []*labels.Matcher
	// Query is the PromQL expression (prometheus sources only).
	Query string
	// Aggregate reduces several matching series to one.
	Aggregate Aggregation
	// Rate asks for the per-second rate between the last two reads of a counter.
	Rate bool
	// ByLabel, when set, asks a prometheus source for the query's whole
	// vector keyed by this label's values: in fleet mode, the label whose
	// value names a server, so that each server has its own value. Empty
	// outside fleet mode and for other sources.
	ByLabel string
	// MaxSeries, when above 0, bounds the series a read by label may
	// return: a fleet's discovery sets it so that a query matching too
	// much is a failed read (the last good list is kept), not a fleet
	// past the limits a static list is held to.
	MaxSeries int
	// History is the PromQL query that gives a scrape or host metric's
	// past values in backtests, read from HistorySource (a prometheus
	// source); empty when the metric has none. Serving never reads it.
	History       string
	HistorySource string
	Pos           Pos
}

// Service is one set of rules, picked by the agent-send line a poll carries.
type Service struct {
	Name  string
	Rules []*Rule
	// UsesMaxconn is true when a rule of the service sets maxconn; only then
	// does the reply carry maxconn, so that the agent can also lift it.
	UsesMaxconn bool
	Pos         Pos
}

// OnMissing says what a rule does when a metric its expressions read is missing.
type OnMissing int

// The policies for missing data.
const (
	// Keep leaves the rule in the state it had: don't change what you can't see.
	Keep OnMissing = iota
	// Skip treats the condition as false.
	Skip
	// Fire treats the condition as true.
	Fire
)

func (o OnMissing) String() string {
	switch o {
	case Skip:
		return "skip"
	case Fire:
		return "fire"
	}
	return "keep"
}

// Rule is one compiled rule: when its condition holds (for long enough) its
// action applies.
type Rule struct {
	// Name identifies the rule in replies, logs and state carried over a
	// reload; for the short form it is the expression text.
	Name string
	// Expr is the source text of the condition.
	Expr string
	// When is Expr compiled to a bool-valued program.
	When *vm.Program
	// WeightExpr is the source text of a computed weight percent, or empty.
	WeightExpr string
	// Weight is WeightExpr compiled to a number-valued program, or nil.
	Weight *vm.Program
	// Action is what the rule does while firing. With Weight set,
	// Action.Weight is unset and the weight is computed at evaluation.
	Action        Action
	For           time.Duration
	KeepFiringFor time.Duration
	OnMissing     OnMissing
	// Description is the text put after `#` in the reply; Name when empty.
	Description string
	// Needs lists, sorted, the indexes of the metrics the rule's expressions read.
	Needs []int
	Pos   Pos
}

// Label is the text that names the rule in a reply's description.
func (r *Rule) Label() string {
	if r.Description != "" {
		return r.Description
	}
	return r.Name
}

// Unset marks an Action's Weight or Maxconn as not set by the action.
const Unset = -1

// MaxWeight is the largest weight percent HAProxy accepts.
const MaxWeight = 256

// MaxMaxconn is the largest maxconn sent: HAProxy keeps it in a signed
// 32-bit integer and wraps larger values (maxconn:4294967297 gives 1).
const MaxMaxconn = 2147483647

// Action is the part of an agent reply one rule asks for. Empty words and
// Unset numbers leave that part to other rules or the default.
type Action struct {
	// Op is the operational word, or NoOp.
	Op Op
	// Admin is the administrative word, or NoAdmin.
	Admin Admin
	// Weight is a percent in [0, 256], or Unset; with Absolute, an
	// absolute weight in [0, 256] (the reply's weight:N, HAProxy 3.1+).
	Weight int
	// Absolute says Weight is an absolute weight ("weight 50"), not a
	// percent of the server line's weight ("weight 50%").
	Absolute bool
	// Maxconn is ≥ 0, or Unset.
	Maxconn int
}

// MarshalText renders the action as String does, so that JSON shows
// "drain, weight 10%" rather than the struct.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// String renders the action in rule-file syntax, e.g. "drain, weight 10%".
func (a Action) String() string {
	var parts []string
	if a.Op != NoOp {
		parts = append(parts, a.Op.String())
	}
	if a.Admin != NoAdmin {
		parts = append(parts, a.Admin.String())
	}
	if a.Weight != Unset {
		w := "weight " + strconv.Itoa(a.Weight)
		if !a.Absolute {
			w += "%"
		}
		parts = append(parts, w)
	}
	if a.Maxconn != Unset {
		parts = append(parts, "maxconn "+strconv.Itoa(a.Maxconn))
	}
	return strings.Join(parts, ", ")
}

// Reply holds the reply settings of the file.
type Reply struct {
	// Default is sent when no rule fires; Op, Admin and Weight are always set.
	Default Action
	// MinWeight is the floor, in percent, for weights set or computed by rules.
	MinWeight int
	// Maxconn is sent for RestoreFor after the last rule or override that
	// limited maxconn stops applying (0: unlimited).
	Maxconn int
	// RestoreFor is how long the reply keeps carrying the admin word and
	// the weight after the agent last wanted something else, and after it
	// starts (default 30s). Zero when RestoreAlways.
	RestoreFor time.Duration
	// RestoreAlways makes every reply carry the full state.
	RestoreAlways bool
	// Ramp is how long the weight takes to climb back after a drain,
	// maint or down ends, or after the weight rises; zero is off.
	Ramp time.Duration
}

// Pos is a position in a rule file.
type Pos struct {
	Line, Col int
}
