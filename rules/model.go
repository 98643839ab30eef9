package rules

import "github.com/haproxy-agent/agent/rules/ruleset"

// The compiled rule file is defined in package ruleset, which the
// evaluator reads without this package's parser, HTTP settings and PromQL.
// These names are the same types and values, so that a caller of Parse
// needs this package alone.
type (
	File        = ruleset.File
	Source      = ruleset.Source
	SourceKind  = ruleset.SourceKind
	Metric      = ruleset.Metric
	Aggregation = ruleset.Aggregation
	Service     = ruleset.Service
	Rule        = ruleset.Rule
	OnMissing   = ruleset.OnMissing
	Action      = ruleset.Action
	Op          = ruleset.Op
	Admin       = ruleset.Admin
	Reply       = ruleset.Reply
	Fleet       = ruleset.Fleet
	Limit       = ruleset.Limit
	Pos         = ruleset.Pos
)

// Names and limits of the compiled rule file; see package ruleset.
const (
	DefaultService     = ruleset.DefaultService
	HostSource         = ruleset.HostSource
	Unset              = ruleset.Unset
	MaxWeight          = ruleset.MaxWeight
	MaxMaxconn         = ruleset.MaxMaxconn
	MaxFleetServers    = ruleset.MaxFleetServers
	MaxFleetRuleStates = ruleset.MaxFleetRuleStates
)

// The aggregations; see ruleset.Aggregation.
const (
	AggNone  = ruleset.AggNone
	AggSum   = ruleset.AggSum
	AggMin   = ruleset.AggMin
	AggMax   = ruleset.AggMax
	AggAvg   = ruleset.AggAvg
	AggCount = ruleset.AggCount
)

// The policies for missing data; see ruleset.OnMissing.
const (
	Keep = ruleset.Keep
	Skip = ruleset.Skip
	Fire = ruleset.Fire
)

// The reply words; see ruleset.Op and ruleset.Admin.
const (
	NoOp    = ruleset.NoOp
	Up      = ruleset.Up
	Down    = ruleset.Down
	Fail    = ruleset.Fail
	Stopped = ruleset.Stopped

	NoAdmin = ruleset.NoAdmin
	Ready   = ruleset.Ready
	Drain   = ruleset.Drain
	Maint   = ruleset.Maint
)

// The words of an action; see ruleset.OpWords. Read them; do not modify them.
var (
	OpWords    = ruleset.OpWords
	AdminWords = ruleset.AdminWords
)

// NewAction returns an action that sets nothing.
func NewAction() Action { return ruleset.NewAction() }

// LookupOp returns the operational word s names (lower case), and whether
// it names one.
func LookupOp(s string) (Op, bool) { return ruleset.LookupOp(s) }

// LookupAdmin returns the administrative word s names (lower case), and
// whether it names one.
func LookupAdmin(s string) (Admin, bool) { return ruleset.LookupAdmin(s) }
