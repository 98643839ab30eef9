package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/haproxy-agent/agent/evaluator"
)

// printFleet prints the fleet's servers: a table of every server's values,
// pending and firing rules, reply and whether the guardrail holds it, or one server in full
// when --server picked it.
func printFleet(w io.Writer, rep *report) {
	g := rep.Guardrail
	fmt.Fprintf(w, "\nFLEET: %d servers known, max_unavailable %s (%d allowed out): %d out, %d held by the guardrail\n",
		g.Servers, g.MaxUnavailable, g.Allowed, g.Out, len(g.Held))
	if rep.live != nil && rep.live.Discovery != nil && rep.live.Discovery.Missing != "" {
		fmt.Fprintf(w, "  discovery: %s\n", rep.live.Discovery.Missing)
	}
	if rep.one {
		d := rep.Servers[0]
		title := "SERVER " + d.Server
		if d.Held {
			title += " (held by the guardrail: the rules would take it out of rotation)"
		}
		printDecision(w, title, d, rep.Time)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SERVER\tVALUES\tRULES\tREPLY\tGUARDRAIL")
	for _, d := range rep.Servers {
		state := "-"
		switch {
		case d.Held:
			state = "held"
		case d.Stale:
			state = "gone (last reply kept)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", d.Server, serverValues(d), ruleStates(d), strings.TrimSuffix(d.Reply, "\n"), state)
	}
	tw.Flush()
}

// serverValues lists the values a server's rules read, each once:
// "queue=900 errors=0.01", a missing one as "queue=missing".
func serverValues(d *evaluator.Decision) string {
	var out []string
	seen := map[string]bool{}
	for _, r := range d.Rules {
		for _, v := range r.Values {
			if seen[v.Name] {
				continue
			}
			seen[v.Name] = true
			val := "missing"
			if v.Missing == "" {
				val = formatValue(v.Value)
			}
			out = append(out, v.Name+"="+val)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, " ")
}

// ruleStates lists a server's rules that are pending or firing, with
// their state: "deep queue: firing, slow: pending"; "-" when none is.
func ruleStates(d *evaluator.Decision) string {
	var out []string
	for _, r := range d.Rules {
		if r.State != evaluator.Inactive {
			out = append(out, r.Name+": "+r.State.String())
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ", ")
}
