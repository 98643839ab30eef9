package statuspage

import (
	"strings"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/rules"
)

// State is where a reply puts a server: in rotation, draining, or out
// (down, failed, stopped or in maintenance).
type State int

// The states, in the order a chart's shading and the fleet's default sort
// rank them.
const (
	StateIn State = iota
	StateDraining
	StateOut
)

// String is the state's word on the page and in its links.
func (s State) String() string {
	switch s {
	case StateDraining:
		return "draining"
	case StateOut:
		return "out"
	}
	return "in"
}

// StateOf says where a decision puts its server: out by Decision.Out,
// draining when that is by drain alone.
func StateOf(d *evaluator.Decision) State {
	switch {
	case !d.Out():
		return StateIn
	case d.Admin == rules.Drain && !d.Op.IsDown():
		return StateDraining
	}
	return StateOut
}

// Fleet is the fleet's servers as the summary and its table show them:
// built once per evaluation, shared by every page load until the next.
type Fleet struct {
	// Rows holds one line per server, sorted by name.
	Rows []ServerRow
	// In, Draining and Out count the servers by State; Held counts those
	// the guardrail keeps in rotation (they are in In), Stale those
	// discovery no longer lists.
	In, Draining, Out, Held, Stale int
	// MaxUnavailable is the guardrail's limit as the file writes it, and
	// Allowed how many servers it lets out at once.
	MaxUnavailable string
	Allowed        int
}

// ServerRow is one server in the fleet's table.
type ServerRow struct {
	Name, Reply, Reason string
	State               State
	Held, Stale         bool
	// Since is when the server's reply became what it is; SinceStart says
	// it has been so since the agent first saw the server. Zero when
	// unknown.
	Since      time.Time
	SinceStart bool
	// search is the name, reply and reason in lower case, for ?filter=.
	search string
}

// SinceFunc says since when a target has had its reply (History.Since).
type SinceFunc func(name string) (since time.Time, start, ok bool)

// NewFleet builds the table of the servers' decisions (sorted by name, as
// an evaluation gives them) at the time of their evaluation.
func NewFleet(servers []*evaluator.Decision, g *evaluator.Guardrail, at time.Time, since SinceFunc) *Fleet {
	f := &Fleet{Rows: make([]ServerRow, len(servers))}
	if g != nil {
		f.MaxUnavailable, f.Allowed = g.MaxUnavailable, g.Allowed
	}
	for i, d := range servers {
		r := &f.Rows[i]
		r.Name, r.Reply, r.State, r.Held, r.Stale = d.Server, strings.TrimSuffix(d.Reply, "\n"), StateOf(d), d.Held, d.Stale
		r.Reason = Reason(d, at)
		r.search = strings.ToLower(r.Name + "\x00" + r.Reply + "\x00" + r.Reason)
		if since != nil {
			r.Since, r.SinceStart, _ = since(d.Server)
		}
		switch r.State {
		case StateIn:
			f.In++
		case StateDraining:
			f.Draining++
		default:
			f.Out++
		}
		if r.Held {
			f.Held++
		}
		if r.Stale {
			f.Stale++
		}
	}
	return f
}

// Total is the number of servers.
func (f *Fleet) Total() int { return len(f.Rows) }
