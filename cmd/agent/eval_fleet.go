package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// printFleet prints the fleet's servers: a table of every server's reply,
// firing rules and whether the guardrail holds it, or one server in full
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
	fmt.Fprintln(tw, "  SERVER\tREPLY\tFIRING\tGUARDRAIL")
	for _, d := range rep.Servers {
		firing := strings.Join(d.Firing, ", ")
		if firing == "" {
			firing = "-"
		}
		state := "-"
		switch {
		case d.Held:
			state = "held"
		case d.Stale:
			state = "gone (last reply kept)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", d.Server, strings.TrimSuffix(d.Reply, "\n"), firing, state)
	}
	tw.Flush()
}
