package app

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/responder"
	"github.com/haproxy-agent/agent/internal/statuspage"
)

// fleetTargets are the fleet's servers as the status page shows them, with
// the guardrail's hold and a server gone from discovery said in words. A
// server has no weight chart: a fleet has hundreds.
func fleetTargets(st *Status, now time.Time) []statuspage.Target {
	g := st.Guardrail
	if g == nil {
		return nil
	}
	out := make([]statuspage.Target, 0, len(st.Servers))
	for _, d := range st.Servers {
		t := statuspage.FromDecision("server", d, now)
		t.Name, t.WeightKey = d.Server, ""
		if d.Held {
			t.Facts = append(t.Facts, statuspage.Fact{Name: "guardrail", Value: fmt.Sprintf(
				"held in rotation: the rules would take it out, but max_unavailable %s lets %d of %d servers out and %d are", g.MaxUnavailable, g.Allowed, g.Servers, g.Out)})
		}
		if d.Stale {
			value := "no longer discovered: its last reply is kept until stale_after, then its polls get an empty line"
			if d.Restore {
				value = "no longer discovered while out of rotation: it still counts as out, and its polls are answered its restore until one is, or until it has not polled for forget_after"
			}
			t.Facts = append(t.Facts, statuspage.Fact{Name: "discovery", Value: value})
		}
		out = append(out, t)
	}
	return out
}

// answers counts the polls of one fleet server answered with one line.
type answers struct {
	line string
	n    atomic.Uint64
	// seen is n when the loop last read it.
	seen uint64
}

// reportPolls tells the evaluator which fleet servers HAProxy polled since
// the last evaluation, answered their last reply: a server it may hold out
// of rotation is back only once told its restore, and one no longer
// discovered is forgotten after forget_after without a poll.
func (a *agent) reportPolls(now time.Time) {
	for name, m := range a.answers {
		if n := m.n.Load(); n != m.seen {
			m.seen = n
			a.eval.Polled(now, name)
		}
	}
}

// publishFleet publishes a fleet's replies by server name and logs each
// server's reply changes, and the guardrail starting or stopping to hold
// servers, once when they happen. It returns the changes for the status
// page, and whether any server's reply is new or changed (to be recorded
// in the state file).
func (a *agent) publishFleet(res *evaluator.Result) (changes []statuspage.Change, changed bool) {
	byServer := make(map[string][]byte, len(res.Servers))
	answered := make(map[string]*atomic.Uint64, len(res.Servers))
	for _, d := range res.Servers {
		byServer[d.Server] = []byte(d.Reply)
		// A line gets a new counter when it changes: polls answered
		// from an older table count on the old one.
		m := a.answers[d.Server]
		if m == nil || m.line != d.Reply {
			m = &answers{line: d.Reply}
			a.answers[d.Server] = m
		}
		answered[d.Server] = &m.n
	}
	a.resp.Publish(responder.NewFleetTableAnswered(byServer, answered))
	for name := range a.answers {
		if _, ok := answered[name]; !ok {
			delete(a.answers, name)
		}
	}

	seen := make(map[string]bool, len(res.Servers))
	var added []string
	for _, d := range res.Servers {
		key := "server/" + d.Server
		seen[key] = true
		prev, ok := a.replies[key]
		switch {
		case !ok:
			// A new server is one line for all of them, not one each:
			// a fleet starts with a thousand.
			added = append(added, d.Server)
			changed = true
			if d.Out() || d.Held {
				a.log.Info("reply changed", "server", d.Server, "from", "", "to", trimNL(d.Reply), "firing", strings.Join(d.Firing, ", "), "held", d.Held)
			}
		case prev != d.Reply:
			changed = true
			a.log.Info("reply changed", "server", d.Server, "from", trimNL(prev), "to", trimNL(d.Reply), "firing", strings.Join(d.Firing, ", "), "held", d.Held)
			changes = append(changes, statuspage.Change{Time: res.Time, Target: d.Server, From: trimNL(prev), To: trimNL(d.Reply), Why: why(d)})
		}
		a.replies[key] = d.Reply
	}
	if len(added) > 0 {
		a.log.Info("fleet servers added", "count", len(added), "first", added[0], "last", added[len(added)-1], "known", len(res.Servers))
	}
	for key := range a.replies {
		if len(key) > 7 && key[:7] == "server/" && !seen[key] {
			a.log.Info("server forgotten: no longer discovered, and in rotation in HAProxy or silent for forget_after; its polls get an empty line", "server", key[7:])
			delete(a.replies, key)
		}
	}
	if g := res.Guardrail; g != nil {
		held := len(g.Held)
		if held != a.guardrailHeld && held == 0 {
			a.log.Info("guardrail holds no server any more", "out", g.Out, "of", g.Servers)
		} else if held != a.guardrailHeld {
			a.log.Warn("guardrail holds servers in rotation", "held", held, "servers", g.Held, "out", g.Out, "allowed", g.Allowed, "of", g.Servers)
		}
		a.guardrailHeld = held
	}
	return changes, changed
}
