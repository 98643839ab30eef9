package haproxyview

import (
	"fmt"
	"strings"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/rules"
)

// expectation is what HAProxy should show for a server, given the
// agent's decision: a state word and, while the reply carries one, a
// weight.
type expectation struct {
	state string // UP, DOWN, DRAIN, MAINT
	// quiet: the reply is the operational word alone, so an operator's
	// DRAIN or MAINT stays and is no drift.
	quiet  bool
	weight int // -1: any
}

func (e expectation) String() string {
	s := e.state
	if e.weight >= 0 {
		s += fmt.Sprintf(" weight %d", e.weight)
	}
	return s
}

// expect turns a decision into what HAProxy should show for s.
func expect(d *evaluator.Decision, s *Server) expectation {
	e := expectation{state: "UP", weight: -1, quiet: d.Phase == evaluator.Quiet}
	switch {
	case !e.quiet && d.Admin == rules.Maint:
		e.state = "MAINT"
	case d.Op.IsDown():
		e.state = "DOWN"
	case !e.quiet && d.Admin == rules.Drain:
		e.state = "DRAIN"
	}
	if !e.quiet && (e.state == "UP" || e.state == "DRAIN") {
		if d.Absolute {
			e.weight = d.Weight
		} else {
			e.weight = s.InitialWeight * d.Weight / 100
		}
	}
	return e
}

// matches reports whether HAProxy's view of s agrees with e.
func (e expectation) matches(s *Server) bool {
	got := s.state()
	switch got {
	case "NOLB", "no":
		got = "UP" // "no check": up without a health check
	}
	switch {
	case e.state == "UP" && got == "DOWN" && !strings.Contains(s.Status, "agent"):
		// Down by its health check, not by an agent: not the agent's to
		// answer for.
	case e.quiet && e.state == "UP" && (got == "DRAIN" || got == "MAINT"):
		// An operator's state, left alone while the agent is quiet.
	case got != e.state:
		return false
	}
	if e.weight >= 0 {
		d := s.Weight - e.weight
		return d >= -1 && d <= 1
	}
	return true
}

// cause names the likely reason HAProxy disagrees with e for s; port is
// the agent's own port.
func cause(e expectation, s *Server, port int) string {
	agent := s.AgentStatus
	switch {
	case !s.AgentCheck:
		return "no agent-check on this server line"
	case s.AgentDisabled:
		return "an operator's override: the agent check is suspended (disable agent)"
	case port > 0 && s.AgentPort > 0 && s.AgentPort != port:
		return fmt.Sprintf("its agent check polls port %d, not this agent's %d", s.AgentPort, port)
	case agent != "" && agent != "L7OK" && agent != "L7STS" && agent != "CHECKED" && agent != "INI":
		return fmt.Sprintf("HAProxy cannot read the agent's reply (agent_status %s)", agent)
	}
	got := s.state()
	stateOK := got == e.state || e.state == "UP" && (got == "NOLB" || got == "no")
	switch {
	case stateOK && e.weight >= 0 && e.weight != s.InitialWeight && s.Weight == s.InitialWeight:
		return "the weight is not applied: a static algorithm (balance static-rr or first) applies only 0% and 100%"
	case got == "MAINT" || got == "DRAIN":
		return "an operator's override (set server ... state " + strings.ToLower(got) + ")"
	case stateOK:
		return "an operator's weight (set weight), or another agent-send"
	}
	return "another agent answers for this server (another agent-send or agent-addr)"
}
