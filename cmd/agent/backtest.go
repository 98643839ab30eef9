package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/model"

	"github.com/haproxy-agent/agent/internal/backtest"
	"github.com/haproxy-agent/agent/internal/jsonout"
	"github.com/haproxy-agent/agent/rules"
)

// defaultBacktestFrom is how far back a backtest goes without --from or
// --start.
const defaultBacktestFrom = 6 * time.Hour

func registerBacktest(ka *kingpin.Application, stdout, stderr io.Writer) (string, command) {
	c := ka.Command("backtest", "Replay a rule file over the history Prometheus holds (read from the file's own prometheus sources, as serve would query them): what would these rules have replied? Prints, per service or fleet server, every change with the firing rules, the time out of rotation and at reduced weight, and a timeline; with --baseline, the same for another file over the same data and where the two differ. Exit 0 when it ran; 1 when a metric has no history, no metric had any data over the range, or Prometheus fails; 2 for usage errors; 130 when interrupted.")
	path := c.Flag("rules", "Rule file to replay.").Required().PlaceHolder("FILE").String()
	from := c.Flag("from", "Replay this far back from now (default 6h without --start).").PlaceHolder("DURATION").String()
	start := c.Flag("start", "Start of the replay: RFC 3339 or Unix time, as promtool takes it.").PlaceHolder("TIME").String()
	end := c.Flag("end", "End of the replay: RFC 3339 or Unix time (default now).").PlaceHolder("TIME").String()
	step := c.Flag("step", "Simulated evaluation interval (default the file's interval).").PlaceHolder("DURATION").String()
	service := c.Flag("service", "Show only this service (the top-level rules are \"default\").").String()
	server := c.Flag("server", "Fleet mode: show only this server.").PlaceHolder("NAME").String()
	baseline := c.Flag("baseline", "Replay this rule file too, over the same data, and show where the replies differ.").PlaceHolder("OLD_FILE").String()
	sets := c.Flag("set", "Use VALUE for metric NAME at every step instead of its history (for metrics without one, or what-if); repeatable.").PlaceHolder("NAME=VALUE").Strings()
	output := c.Flag("output", "Output format.").Default("text").Enum("text", "json")
	queryTimeout := c.Flag("query.timeout", "Timeout of each range query.").Default("1m").Duration()

	return c.FullCommand(), func(ctx context.Context, logger *slog.Logger) int {
		usage := func(format string, args ...any) int {
			fmt.Fprintf(stderr, "agent: backtest: "+format+"\n", args...)
			return exitUsage
		}
		f, err := rules.ParseFile(*path)
		if err != nil {
			printLoadErrors(stderr, "", err)
			return exitFailure
		}
		var bf *rules.File
		if *baseline != "" {
			if bf, err = rules.ParseFile(*baseline); err != nil {
				printLoadErrors(stderr, "", err)
				return exitFailure
			}
			if (bf.Fleet == nil) != (f.Fleet == nil) {
				return usage("%s and %s cannot be compared: one is a fleet file, the other not", *path, *baseline)
			}
		}
		switch {
		case *service != "" && *server != "":
			return usage("--service and --server do not combine")
		case *service != "" && f.Fleet != nil:
			return usage("%s is a fleet file: name a server with --server", *path)
		case *service != "" && f.Service(*service) == nil:
			return usage("%s", noService(f, *path, *service))
		case *server != "" && f.Fleet == nil:
			return usage("--server is for fleet mode: %s has no fleet section", *path)
		}
		rng, err := backtestRange(*from, *start, *end, *step, f.Interval, time.Now())
		if err != nil {
			return usage("%v", err)
		}
		fixed, err := parseSets(f, *sets)
		if err != nil {
			return usage("%v", err)
		}
		plan, err := backtest.NewPlan(f, fixed)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitFailure
		}
		queries := plan.Queries()
		var bplan *backtest.Plan
		if bf != nil {
			bfixed := map[string]float64{}
			for name, v := range fixed {
				if bf.Metric(name) != nil {
					bfixed[name] = v
				}
			}
			bplan, err = backtest.NewPlan(bf, bfixed)
			if err != nil {
				fmt.Fprintln(stderr, err)
				return exitFailure
			}
			queries = append(queries, bplan.Queries()...)
		}
		prog := progress(stderr)
		// A signal stops a backtest at once: no report of a run that did
		// not finish.
		interrupted := func() int {
			prog.clear()
			fmt.Fprintln(stderr, "agent: backtest: interrupted; no report")
			return exitInterrupted
		}
		fe := &backtest.Fetcher{Range: rng, Timeout: *queryTimeout}
		if prog != nil {
			fe.Progress = func(done, total int) { prog.show("range queries read", done, total) }
		}
		if err := fe.Fetch(ctx, queries); err != nil {
			if ctx.Err() != nil {
				return interrupted()
			}
			prog.clear()
			fmt.Fprintf(stderr, "agent: backtest: %v\n", err)
			return exitFailure
		}
		for _, w := range fe.Warnings() {
			logger.Warn("range query returned a warning", "warning", w)
		}
		var steps func(done, total int)
		if prog != nil {
			steps = func(done, total int) { prog.show("steps evaluated", done, total) }
		}
		run, err := backtest.Replay(ctx, plan, fe, steps)
		if ctx.Err() != nil {
			return interrupted()
		}
		if err != nil {
			prog.clear()
			fmt.Fprintf(stderr, "agent: backtest: %v\n", err)
			return exitFailure
		}
		var brun *backtest.Run
		if bplan != nil {
			brun, err = backtest.Replay(ctx, bplan, fe, steps)
			if ctx.Err() != nil {
				return interrupted()
			}
			if err != nil {
				prog.clear()
				fmt.Fprintf(stderr, "agent: backtest: %v\n", err)
				return exitFailure
			}
		}
		prog.clear()
		for _, r := range []*backtest.Run{run, brun} {
			if r == nil {
				continue
			}
			if err := r.ReadNothing(); err != nil {
				fmt.Fprintf(stderr, "agent: backtest: %s: %v\n", r.RulesFile, err)
				return exitFailure
			}
		}
		only := *service
		if *server != "" {
			only = *server
			if run.Target(only) == nil {
				fmt.Fprintf(stderr, "agent: backtest: no server %q was known between %s and %s\n", only, rng.Start.Format(time.RFC3339), rng.End.Format(time.RFC3339))
				return exitFailure
			}
		}
		rep := backtest.NewReport(run, brun, only)
		if *output == "json" {
			err = jsonout.Write(stdout, rep)
		} else {
			err = rep.WriteText(stdout)
		}
		if err != nil {
			fmt.Fprintf(stderr, "agent: backtest: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
}

// backtestRange reads --from, --start, --end and --step.
func backtestRange(from, start, end, step string, interval time.Duration, now time.Time) (backtest.Range, error) {
	var s, e time.Time
	var err error
	switch {
	case from != "" && (start != "" || end != ""):
		return backtest.Range{}, errors.New("--from does not combine with --start or --end")
	case start == "" && end != "":
		return backtest.Range{}, errors.New("--end needs --start (or use --from)")
	case start != "":
		if s, err = backtest.ParseTime(start); err != nil {
			return backtest.Range{}, fmt.Errorf("--start: %w", err)
		}
		e = now
		if end != "" {
			if e, err = backtest.ParseTime(end); err != nil {
				return backtest.Range{}, fmt.Errorf("--end: %w", err)
			}
		}
	default:
		d := defaultBacktestFrom
		if from != "" {
			if d, err = parseDuration(from); err != nil || d <= 0 {
				return backtest.Range{}, fmt.Errorf("--from %q: want a positive duration such as 6h or 7d", from)
			}
		}
		s, e = now.Add(-d), now
	}
	st := interval
	if step != "" {
		if st, err = parseDuration(step); err != nil || st <= 0 {
			return backtest.Range{}, fmt.Errorf("--step %q: want a positive duration such as 15s or 1m", step)
		}
	}
	return backtest.NewRange(s, e, st)
}

// progressLine shows progress on a terminal, overwriting one line; its
// methods do nothing on a nil *progressLine.
type progressLine struct{ f *os.File }

// progress returns a progressLine on w when w is a terminal, else nil:
// progress is for people watching, never for a file or a pipe.
func progress(w io.Writer) *progressLine {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &progressLine{f}
}

func (p *progressLine) show(what string, done, total int) {
	if p != nil {
		fmt.Fprintf(p.f, "\r\033[K%s: %d of %d", what, done, total)
	}
}

// clear erases the progress line.
func (p *progressLine) clear() {
	if p != nil {
		fmt.Fprint(p.f, "\r\033[K")
	}
}

// parseDuration reads a Prometheus-style duration (90s, 6h, 7d).
func parseDuration(s string) (time.Duration, error) {
	d, err := model.ParseDuration(s)
	return time.Duration(d), err
}
