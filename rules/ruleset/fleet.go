package ruleset

import (
	"fmt"
	"strconv"
	"time"
)

// Limits of a static fleet. The agent keeps a decision per server and a
// state per server and rule, and /status and the status page show them
// all: 10,000 servers × 100 rules held 894 MB and took 1.1 s per
// evaluation, and 100,000 servers with one rule reached 1.1 GB once the
// pages were loaded.
const (
	// MaxFleetServers caps the servers of a fleet: a static list longer
	// than this is a load error, a discovery that finds more a failed read.
	MaxFleetServers = 10000
	// MaxFleetRuleStates caps servers × top-level rules of a fleet, static
	// or discovered.
	MaxFleetRuleStates = 100000
)

// DefaultForgetAfter is fleet.forget_after when the file does not say,
// and for a fleet whose ForgetAfter is zero (one built in code).
const DefaultForgetAfter = 10 * time.Minute

// Fleet is the `fleet:` section: one agent answers for many servers, each
// poll naming its server with HAProxy's agent-send, and the top-level rules
// are evaluated once per server with that server's own values.
type Fleet struct {
	// Static lists the servers when they are given in the file, sorted;
	// nil when they are discovered.
	Static []string
	// HAProxyBackend, when set, makes HAProxy's own server list of that
	// backend (read through serve's --haproxy.runtime-api) the fleet.
	HAProxyBackend string
	// PushBackend, when set, is push mode: each server's decision is
	// applied to this backend through serve's --haproxy.runtime-api with
	// set server/set weight/set maxconn, rather than waiting for polls.
	PushBackend string
	// CountsAll (guardrail_counts: all) makes the guardrail also count
	// the servers HAProxy shows out of rotation for any other cause, as
	// serve's --haproxy.runtime-api reads them; false counts only the
	// agent's own (agent, the default).
	CountsAll bool
	// Discovery is the query whose result lists the servers, one series
	// per server named by its Label; nil for a static fleet. It is not in
	// File.Metrics: rules cannot read it.
	Discovery *Metric
	// Label is the label whose value names a server, in the discovery
	// query and in every metric's vector result.
	Label string
	// MaxUnavailable is the guardrail: at most this many (or this share)
	// of the servers discovered now out of rotation at once because of the rules.
	MaxUnavailable Limit
	// ForgetAfter is how long a server that HAProxy may still hold out of
	// rotation, no longer discovered, is remembered without a poll; once
	// it has polled and been told its restore it is forgotten at once.
	ForgetAfter time.Duration
	Pos         Pos
}

// Limit is a count or a percentage of servers.
type Limit struct {
	// Set is false when the file sets no limit.
	Set bool
	// N is the count, or the percentage when Percent.
	N       int
	Percent bool
}

// Allowed returns how many of total servers the limit lets out at once: a
// percentage rounds down but allows at least one. Without a limit every
// server may be out.
func (l Limit) Allowed(total int) int {
	switch {
	case !l.Set:
		return total
	case l.Percent:
		return max(1, total*l.N/100)
	}
	return l.N
}

// String renders the limit as the file writes it.
func (l Limit) String() string {
	if !l.Set {
		return "none"
	}
	if l.Percent {
		return strconv.Itoa(l.N) + "%"
	}
	return strconv.Itoa(l.N)
}

func (fl *Fleet) String() string {
	if fl.Discovery != nil {
		return fmt.Sprintf("servers from %s:%s by %s", fl.Discovery.Source, fl.Discovery.Query, fl.Label)
	}
	return fmt.Sprintf("%d static servers", len(fl.Static))
}
