package app

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/statuspage"
)

// fleetCard is the card of one fleet server as the status page shows it,
// with the guardrail's hold and a server gone from discovery said in
// words; ok is false for a server the fleet does not have. A server has
// no weight chart: a fleet has thousands.
func fleetCard(st *Status, name string, now time.Time) (t statuspage.Target, ok bool) {
	g := st.Guardrail
	i, found := slices.BinarySearchFunc(st.Servers, name, func(d *evaluator.Decision, n string) int { return strings.Compare(d.Server, n) })
	if g == nil || !found {
		return t, false
	}
	d := st.Servers[i]
	t = statuspage.FromDecision("server", d, now)
	t.Name, t.WeightKey, t.StateKey = d.Server, "", ""
	if d.Held {
		t.Facts = append(t.Facts, statuspage.Fact{Name: "guardrail", Value: heldWords(g)})
	}
	if d.Stale {
		value := "no longer discovered: its last reply is kept until stale_after, then its polls get an empty line"
		if d.Restore {
			value = "no longer discovered while out of rotation: it still counts as out, and its polls are answered its restore until one is, or until it has not polled for forget_after"
		}
		t.Facts = append(t.Facts, statuspage.Fact{Name: "discovery", Value: value})
	}
	return t, true
}

// heldWords says why the guardrail holds a server in rotation.
func heldWords(g *evaluator.Guardrail) string {
	already := statuspage.Thousands(g.Out) + " are"
	if g.Out == 1 {
		already = "1 is"
	}
	return fmt.Sprintf("held in rotation: the rules would take it out, but max_unavailable %s lets %s of %s out at once, and %s already out",
		g.MaxUnavailable, statuspage.Thousands(g.Allowed), statuspage.Count(g.Servers, "server"), already)
}

// fleetChanges logs each fleet server's reply changes, and the guardrail
// starting or stopping to hold servers, once when they happen. It returns
// the changes for the status page, and whether any server's reply is new
// or changed (to be recorded in the state file).
func (a *agent) fleetChanges(res *evaluator.Result) (changes []statuspage.Change, changed bool) {
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
		// Why HAProxy may hold it out is in the state file too.
		if a.outBy[d.Server] != d.OutBy {
			changed = true
			if d.OutBy == "" {
				delete(a.outBy, d.Server)
			} else {
				a.outBy[d.Server] = d.OutBy
			}
		}
	}
	if len(added) > 0 {
		a.log.Info("fleet servers added", "count", len(added), "first", added[0], "last", added[len(added)-1], "known", len(res.Servers))
	}
	var forgotten []string
	for key := range a.replies {
		if len(key) > 7 && key[:7] == "server/" && !seen[key] {
			forgotten = append(forgotten, key[7:])
			a.log.Debug("server forgotten", "server", key[7:])
			delete(a.replies, key)
			delete(a.outBy, key[7:])
		}
	}
	if len(forgotten) > 0 {
		// One line for all of them, as for servers added: under churn a
		// fleet forgets hundreds at a time.
		slices.Sort(forgotten)
		a.log.Info("fleet servers forgotten: no longer discovered, and in rotation in HAProxy or silent for forget_after; their polls get an empty line", "count", len(forgotten), "first", forgotten[0], "last", forgotten[len(forgotten)-1], "known", len(res.Servers))
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
	if refused := res.DiscoveryRefused != ""; refused != a.discoveryRefused {
		if refused {
			a.log.Warn("discovery refused: the fleet would pass its limit of servers; the last list is kept", "reason", res.DiscoveryRefused)
		} else {
			a.log.Info("discovery taken again: the fleet is within its limit of servers")
		}
		a.discoveryRefused = refused
	}
	return changes, changed
}
