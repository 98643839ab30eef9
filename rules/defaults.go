package rules

import (
	"strconv"
	"time"

	"github.com/alecthomas/units"

	"github.com/haproxy-agent/agent/rules/ruleset"
)

// The defaults of the rule file, each defined here once: the parser applies
// them, and docs/rules.md states them (a test holds the two together, see
// Defaults).
const (
	// DefaultInterval is the evaluation cadence when interval is not set.
	DefaultInterval = 5 * time.Second
	// DefaultStaleFactor times the interval is the default stale_after.
	DefaultStaleFactor = 3
	// DefaultTimeout bounds one read of a source (or the interval, if
	// shorter).
	DefaultTimeout = time.Second
	// DefaultBodyLimit caps a scraped page's size in bytes.
	DefaultBodyLimit = 16 << 20
	// DefaultMaxConcurrency bounds the queries a prometheus source has in
	// flight at once.
	DefaultMaxConcurrency = 8
	// DefaultMinWeight is reply.min_weight, the floor of the weights rules
	// set, in percent.
	DefaultMinWeight = 1
	// DefaultRestoreFor is reply.restore_for when the file does not set it.
	DefaultRestoreFor = 30 * time.Second
	// DefaultFleetLabel is the label whose value names a fleet server when
	// the file does not say: Prometheus' own name for a scrape target.
	DefaultFleetLabel = "instance"
	// DefaultForgetAfter is fleet.forget_after when the file does not say
	// (defined beside Fleet, which the evaluator reads without this package).
	DefaultForgetAfter = ruleset.DefaultForgetAfter
)

// DefaultReply is reply.default: what the agent wants when no rule fires.
func DefaultReply() Action { return Action{Op: Up, Admin: Ready, Weight: 100, Maxconn: Unset} }

// Defaults lists each key's default as docs/rules.md writes it in the
// default column of the key's table.
var Defaults = []struct{ Key, Value string }{
	{"interval", fmtDuration(DefaultInterval)},
	{"timeout", fmtDuration(DefaultTimeout)},
	{"body_limit", units.Base2Bytes(DefaultBodyLimit).String()},
	{"max_concurrency", strconv.Itoa(DefaultMaxConcurrency)},
	{"default", DefaultReply().Op.String() + " " + DefaultReply().Admin.String() + " " + strconv.Itoa(DefaultReply().Weight) + "%"},
	{"min_weight", strconv.Itoa(DefaultMinWeight) + "%"},
	{"maxconn", "0"},
	{"restore_for", fmtDuration(DefaultRestoreFor)},
	{"servers.label", DefaultFleetLabel},
	{"forget_after", fmtDuration(DefaultForgetAfter)},
}
