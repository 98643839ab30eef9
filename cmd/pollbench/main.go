// Command pollbench simulates many HAProxy agent-check pollers against one
// or more targets, one after the other with the same settings, and reports
// polls/s, latency percentiles, failed polls by kind and each target's
// ratios against a baseline responder measured in the same run.
package main

import (
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
