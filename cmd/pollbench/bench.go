package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/haproxy-agent/agent/internal/pollbench"
)

// target is one thing to measure: an address, or a responder to start.
type target struct {
	name  string
	addr  string
	pid   int                               // --target-pid, 0 if unknown
	start func() (*pollbench.Server, error) // nil for --target
}

func (o *options) plan() []target {
	var ts []target
	if o.baseline {
		ts = append(ts, target{name: "baseline", start: func() (*pollbench.Server, error) {
			exe, err := os.Executable()
			if err != nil {
				return nil, err
			}
			// With --send, the baseline reads the line as the agent must.
			return pollbench.StartBaselineProcess(exe, o.line, o.send != "")
		}})
	}
	for i, t := range o.targets {
		name, addr, _ := splitTarget(t)
		tg := target{name: name, addr: addr}
		if i < len(o.targetPIDs) {
			tg.pid = o.targetPIDs[i]
		}
		ts = append(ts, tg)
	}
	if o.socat {
		ts = append(ts, target{name: "socat", start: func() (*pollbench.Server, error) {
			return pollbench.StartSocat(o.line)
		}})
	}
	return ts
}

func (o *options) config() pollbench.Config {
	c := pollbench.Config{
		Send:         o.send,
		SendNames:    o.sendNames,
		ExpectLine:   o.expectLine,
		Concurrency:  o.concurrency,
		Rate:         o.rate,
		Workers:      o.workers,
		Duration:     o.duration,
		Count:        o.count,
		Warmup:       o.warmup,
		Timeout:      o.timeout,
		KeepTimeWait: o.keepTW,
	}
	if o.expect != "" {
		c.Expect, _ = pollbench.CompileExpect(o.expect) // checked in parse
	}
	return c
}

// bench measures every target in turn and prints the reports.
func bench(ctx context.Context, o options, stdout, stderr io.Writer) int {
	code := exitOK
	var reports []pollbench.Report
	for _, t := range o.plan() {
		if ctx.Err() != nil {
			break
		}
		r, err := measure(ctx, o, t)
		if err != nil {
			fmt.Fprintf(stderr, "pollbench: %s: %v\n", t.name, err)
			code = exitFailure
			continue
		}
		if r.ErrorCount() > 0 {
			code = exitFailure
		}
		reports = append(reports, r)
	}
	var base *pollbench.Report
	if o.baseline && len(reports) > 0 && reports[0].Name == "baseline" {
		base = &reports[0]
	}
	write := pollbench.WriteText
	if o.output == "json" {
		write = pollbench.WriteJSON
	}
	if err := write(stdout, reports, base); err != nil {
		fmt.Fprintln(stderr, "pollbench:", err)
		return exitFailure
	}
	return code
}

func measure(ctx context.Context, o options, t target) (pollbench.Report, error) {
	cfg := o.config()
	cfg.Addr = t.addr
	if t.start != nil {
		srv, err := t.start()
		if err != nil {
			return pollbench.Report{}, err
		}
		defer srv.Stop()
		cfg.Addr = srv.Addr
		cfg.ServerCPU = srv.CPU
		cfg.ServerMemory = srv.Memory
	}
	if pid := t.pid; pid > 0 {
		if _, ok := pollbench.ProcCPU(pid); !ok {
			return pollbench.Report{}, fmt.Errorf("--target-pid %d: no such process (or no /proc)", pid)
		}
		cfg.ServerCPU = func() (time.Duration, bool) { return pollbench.ProcCPU(pid) }
		cfg.ServerMemory = func() (pollbench.Memory, bool) { return pollbench.ProcMemory(pid) }
	}
	r, err := pollbench.Run(ctx, cfg)
	r.Name = t.name
	return r, err
}
