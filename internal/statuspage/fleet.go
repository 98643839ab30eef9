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
	// lowName, lowReply and lowReason are the name, reply and reason in
	// lower case, for ?filter=.
	lowName, lowReply, lowReason string
}

// matches reports whether filter (in lower case) is in the row's name,
// reply or reason.
func (r *ServerRow) matches(filter string) bool {
	if strings.Contains(filter, "\x00") {
		// A filter naming the separator spans the parts.
		return strings.Contains(r.lowName+"\x00"+r.lowReply+"\x00"+r.lowReason, filter)
	}
	return strings.Contains(r.lowName, filter) || strings.Contains(r.lowReply, filter) || strings.Contains(r.lowReason, filter)
}

// SinceFunc says since when a target has had its reply (History.Since).
type SinceFunc func(name string) (since time.Time, start, ok bool)

// NewFleet builds the table of the servers' decisions (sorted by name, as
// an evaluation gives them) at the time of their evaluation. Replies and
// reasons are held once per distinct text: a fleet's servers mostly share
// them, and the table is built for 10,000 servers once per evaluation.
func NewFleet(servers []*evaluator.Decision, g *evaluator.Guardrail, at time.Time, since SinceFunc) *Fleet {
	f := &Fleet{Rows: make([]ServerRow, len(servers))}
	texts, lower := map[string]string{}, map[string]string{}
	intern := func(s string) string {
		if t, ok := texts[s]; ok {
			return t
		}
		texts[s] = s
		return s
	}
	toLower := func(s string) string {
		if t, ok := lower[s]; ok {
			return t
		}
		t := strings.ToLower(s)
		lower[s] = t
		return t
	}
	if g != nil {
		f.MaxUnavailable, f.Allowed = g.MaxUnavailable, g.Allowed
	}
	for i, d := range servers {
		r := &f.Rows[i]
		r.Name, r.Reply, r.State, r.Held, r.Stale = d.Server, intern(strings.TrimSuffix(d.Reply, "\n")), StateOf(d), d.Held, d.Stale
		r.Reason = intern(Reason(d, at))
		r.lowName, r.lowReply, r.lowReason = strings.ToLower(r.Name), toLower(r.Reply), toLower(r.Reason)
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
