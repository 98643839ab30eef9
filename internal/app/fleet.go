package app

import (
	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/responder"
)

// publishFleet publishes a fleet's replies by server name and logs each
// server's reply changes, and the guardrail starting or stopping to hold
// servers, once when they happen.
func (a *agent) publishFleet(res *evaluator.Result) {
	byServer := make(map[string][]byte, len(res.Servers))
	for _, d := range res.Servers {
		byServer[d.Server] = []byte(d.Reply)
	}
	a.resp.Publish(responder.NewFleetTable(byServer))

	seen := make(map[string]bool, len(res.Servers))
	var added []string
	changed := false
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
				a.log.Info("reply changed", "server", d.Server, "from", "", "to", trimNL(d.Reply), "firing", d.Firing, "held", d.Held)
			}
		case prev != d.Reply:
			changed = true
			a.log.Info("reply changed", "server", d.Server, "from", trimNL(prev), "to", trimNL(d.Reply), "firing", d.Firing, "held", d.Held)
		}
		a.replies[key] = d.Reply
	}
	if changed {
		// What HAProxy is told, by server, for the start-up restore
		// after a restart (see saveReplies).
		told := make(map[string]string, len(res.Servers))
		for _, d := range res.Servers {
			told[d.Server] = trimNL(d.Reply)
		}
		if err := a.overrides.SaveReplies(told); err != nil {
			a.log.Error("cannot record the replies in the state file; a restart may restore more than needed", "err", err)
		}
	}
	if len(added) > 0 {
		a.log.Info("fleet servers added", "count", len(added), "first", added[0], "last", added[len(added)-1], "known", len(res.Servers))
	}
	for key := range a.replies {
		if len(key) > 7 && key[:7] == "server/" && !seen[key] {
			a.log.Info("server forgotten: no longer discovered for stale_after; its polls get an empty line", "server", key[7:])
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
}
