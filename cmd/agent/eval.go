package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/collect"
	"github.com/haproxy-agent/agent/internal/cycle"
	"github.com/haproxy-agent/agent/internal/decisionjson"
	"github.com/haproxy-agent/agent/internal/jsonout"
	"github.com/haproxy-agent/agent/internal/override"
	"github.com/haproxy-agent/agent/internal/source"
	"github.com/haproxy-agent/agent/rules"
)

func registerEval(ka *kingpin.Application, stdout, stderr io.Writer) (string, command) {
	c := ka.Command("eval", "Show what a rule file would reply right now: read the live sources once, evaluate, print every metric, every rule and the exact reply line. Sends nothing to HAProxy, changes nothing.")
	path := c.Flag("rules", "Rule file to evaluate (or give it as the argument).").PlaceHolder("FILE").String()
	// Accepted for the scripts that give it: eval only ever dry-runs.
	c.Flag("dry-run", "Accepted and ignored: eval only ever dry-runs.").Bool()
	service := c.Flag("service", "Show only this service (the top-level rules are \"default\").").String()
	server := c.Flag("server", "Fleet mode: show this server in full (its values, rules and reply) rather than the table of servers.").PlaceHolder("NAME").String()
	sets := c.Flag("set", "Use VALUE for metric NAME instead of reading it (what-if); repeatable.").PlaceHolder("NAME=VALUE").Strings()
	output := c.Flag("output", "Output format.").Default("text").Enum("text", "json")
	stateFile := c.Flag("state.file", "Apply the operator overrides kept in this state file (the serving agent's --state.file); it is only read.").PlaceHolder("FILE").String()
	file := c.Arg("file", "Rule file to evaluate, as check and test take it (or --rules).").String()

	return c.FullCommand(), func(ctx context.Context, logger *slog.Logger) int {
		switch {
		case *path == "" && *file == "":
			fmt.Fprintln(stderr, "agent: eval needs a rule file: agent eval FILE (or --rules FILE)")
			return exitUsage
		case *path != "" && *file != "" && *path != *file:
			fmt.Fprintf(stderr, "agent: eval takes one rule file; got --rules %s and %s\n", *path, *file)
			return exitUsage
		case *path == "":
			path = file
		}
		f, err := rules.ParseFile(*path)
		if err != nil {
			printLoadErrors(stderr, "", err)
			return exitFailure
		}
		if *service != "" && f.Service(*service) == nil {
			fmt.Fprintf(stderr, "agent: %s\n", noService(f, *path, *service))
			return exitUsage
		}
		fixed, err := parseSets(f, *sets)
		if err != nil {
			fmt.Fprintf(stderr, "agent: %v\n", err)
			return exitUsage
		}
		var state override.State
		if *stateFile != "" {
			if state, err = override.ReadState(*stateFile); err != nil {
				fmt.Fprintf(stderr, "agent: %v\n", err)
				return exitFailure
			}
		}
		if *server != "" && f.Fleet == nil {
			fmt.Fprintf(stderr, "agent: --server is for fleet mode: %s has no fleet section\n", *path)
			return exitUsage
		}
		rep, err := evaluateOnce(ctx, f, fixed, state, logger)
		if err != nil {
			fmt.Fprintf(stderr, "agent: %v\n", err)
			return exitFailure
		}
		if *server != "" {
			d := rep.result.Server(*server)
			if d == nil {
				fmt.Fprintf(stderr, "agent: %s knows no server %q now (%d servers known)\n", *path, *server, len(rep.Servers))
				return exitFailure
			}
			rep.Servers, rep.one = []*evaluator.Decision{d}, true
		}
		if *service != "" {
			rep.Services = []*evaluator.Decision{rep.result.Service(*service)}
		}
		if *output == "json" {
			if err := jsonout.Write(stdout, rep); err != nil {
				fmt.Fprintf(stderr, "agent: %v\n", err)
				return exitFailure
			}
			return exitOK
		}
		printReport(stdout, rep)
		return exitOK
	}
}

// parseSets reads the --set NAME=VALUE flags against the declared metrics.
func parseSets(f *rules.File, sets []string) (map[string]float64, error) {
	fixed := map[string]float64{}
	for _, s := range sets {
		name, val, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("--set %q: want NAME=VALUE", s)
		}
		name = strings.TrimSpace(name)
		if f.Metric(name) == nil {
			known := make([]string, len(f.Metrics))
			for i, m := range f.Metrics {
				known[i] = m.Name
			}
			return nil, fmt.Errorf("--set %s: %s declares no metric %q (it has: %s)", s, f.Path, name, strings.Join(known, ", "))
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return nil, fmt.Errorf("--set %s: %q is not a number", s, val)
		}
		fixed[name] = v
	}
	return fixed, nil
}

// report is what eval prints; its JSON field names are stable.
type report struct {
	RulesFile string    `json:"rules_file"`
	Time      time.Time `json:"time"`
	// ReadIntervalSeconds is, when a rate: true metric was read, how far
	// apart the two reads its rate needs were; 0 when the sources were
	// read once.
	ReadIntervalSeconds float64                `json:"read_interval_seconds,omitempty"`
	Metrics             []reportMetric         `json:"metrics"`
	Services            decisionjson.Decisions `json:"services"`
	// Servers and Guardrail are the fleet's, in fleet mode.
	Servers   decisionjson.Decisions `json:"servers,omitempty"`
	Guardrail *evaluator.Guardrail   `json:"guardrail,omitempty"`
	result    *evaluator.Result
	live      *collect.Result
	one       bool // --server: print the one server in full
}

type reportMetric struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	// Value is null when the metric is missing or not a finite number;
	// NonFinite then names it ("+Inf", "-Inf").
	Value     *float64 `json:"value"`
	NonFinite string   `json:"non_finite,omitempty"`
	// AgeSeconds is how old the value is (0 for a fresh read or --set).
	AgeSeconds float64 `json:"age_seconds"`
	Missing    string  `json:"missing,omitempty"`
	// Servers, in fleet mode, is how many servers the metric's vector
	// result gave a value; Value is then null (see each server).
	Servers int `json:"servers,omitempty"`
}

// evaluateOnce reads the sources the --set flags do not cover, once, and
// evaluates the rules from a fresh state: what `agent serve` would reply
// right after starting with that state file.
func evaluateOnce(ctx context.Context, f *rules.File, fixed map[string]float64, state override.State, logger *slog.Logger) (*report, error) {
	now := time.Now()
	rep := &report{RulesFile: f.Path, Time: now}
	var live *collect.Result
	if len(fixed) < len(f.Metrics) || f.Fleet != nil && f.Fleet.Discovery != nil {
		coll, err := collect.New(f, source.NewWithLogger(logger))
		if err != nil {
			return nil, err
		}
		live = coll.Collect(ctx, now)
		if rates := rateMetrics(f, fixed); len(rates) > 0 {
			// A rate is the change between two reads: read again one
			// interval later, as serve would.
			logger.Info("rate metrics need two reads; reading the sources again after one interval",
				"metrics", strings.Join(rates, ","), "interval", f.Interval)
			t := time.NewTimer(f.Interval)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				coll.Close()
				return nil, ctx.Err()
			}
			now = time.Now()
			rep.Time = now
			rep.ReadIntervalSeconds = f.Interval.Seconds()
			live = coll.Collect(ctx, now)
		}
		coll.Close()
	}
	// The step evaluated: what was read, with --set values in place.
	step := &collect.Result{Time: now}
	for _, m := range f.Metrics {
		rm := reportMetric{Name: m.Name, Source: m.Source}
		if v, ok := fixed[m.Name]; ok {
			rm.Source = "--set"
			rm.Value, rm.NonFinite = jsonout.Number(v)
			step.Metrics = append(step.Metrics, collect.MetricValue{Name: m.Name, Source: rm.Source, Value: v})
		} else if live != nil {
			if lm := live.Metric(m.Name); lm != nil {
				step.Metrics = append(step.Metrics, *lm)
				rm.AgeSeconds = lm.Age.Seconds()
				rm.Missing = lm.Missing
				if lm.ByServer != nil {
					rm.Servers = len(lm.ByServer)
				} else if lm.Missing == "" {
					rm.Value, rm.NonFinite = jsonout.Number(lm.Value)
				}
			}
		}
		rep.Metrics = append(rep.Metrics, rm)
	}
	var servers []string
	if live != nil {
		servers = live.Servers
	}
	rep.live = live
	ev := evaluator.New(f)
	ev.Resume(state.Replies, state.OutBy)
	rep.result = cycle.Run(ev, now, step, servers, state.Overrides)
	rep.Services = rep.result.Services
	rep.Servers, rep.Guardrail = rep.result.Servers, rep.result.Guardrail
	return rep, nil
}

// rateMetrics names the rate: true metrics that are read (not --set).
func rateMetrics(f *rules.File, fixed map[string]float64) []string {
	var names []string
	for _, m := range f.Metrics {
		if _, set := fixed[m.Name]; m.Rate && !set {
			names = append(names, m.Name)
		}
	}
	return names
}

// formatValue prints a metric value with up to 6 significant digits.
func formatValue(v float64) string {
	return strconv.FormatFloat(v, 'g', 6, 64)
}

func printReport(w io.Writer, rep *report) {
	fmt.Fprintf(w, "Rule file %s, evaluated once at %s\n", rep.RulesFile, rep.Time.Format(time.RFC3339))
	if rep.ReadIntervalSeconds > 0 {
		fmt.Fprintf(w, "Sources read twice, %s apart, for the rate: true metrics\n",
			time.Duration(rep.ReadIntervalSeconds*float64(time.Second)))
	}
	fmt.Fprint(w, "\nMETRICS\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tSOURCE\tVALUE\tAGE")
	for _, m := range rep.Metrics {
		val := "missing: " + m.Missing
		switch {
		case m.Servers > 0 || m.Missing == "" && m.Value == nil && m.NonFinite == "":
			val = fmt.Sprintf("by server (%d values)", m.Servers)
		case m.Value != nil:
			val = formatValue(*m.Value)
		case m.NonFinite != "":
			val = m.NonFinite
		}
		age := "-"
		if m.Missing == "" && m.Source != "--set" {
			age = (time.Duration(m.AgeSeconds * float64(time.Second))).Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", m.Name, m.Source, val, age)
	}
	tw.Flush()
	if rep.Guardrail != nil {
		printFleet(w, rep)
		return
	}
	for _, d := range rep.Services {
		printDecision(w, "SERVICE "+d.Service, d, rep.Time)
	}
}

// printDecision prints one service's (or fleet server's) rules and reply.
func printDecision(w io.Writer, title string, d *evaluator.Decision, now time.Time) {
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  RULE\tEXPRESSION\tRESULT\tSTATE\tACTION")
	for _, r := range d.Rules {
		result := r.Outcome.String()
		if r.Error != "" {
			result += " (" + r.Error + ")"
		} else if r.Outcome == evaluator.Unknown {
			var miss []string
			for _, v := range r.Values {
				if v.Missing != "" {
					miss = append(miss, v.Name)
				}
			}
			result += " (missing " + strings.Join(miss, ", ") + ")"
		}
		name := r.Name
		if name == r.Expr {
			name = "-"
		}
		action := r.Action
		if r.Weight != rules.Unset {
			action += " = " + strconv.Itoa(int(r.Weight)) + "%"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", name, r.Expr, result, r.State, action)
	}
	tw.Flush()
	for _, o := range d.Overrides {
		fmt.Fprintf(w, "  override %s: %s (%s)\n", o.ID, o.Action, o.Reason)
	}
	fmt.Fprintf(w, "  reply: %s", d.Reply)
	fmt.Fprintf(w, "  phase: %s\n", describePhase(d, now))
}

// describePhase says what the phase means for the replies that follow.
func describePhase(d *evaluator.Decision, now time.Time) string {
	var s string
	switch d.Phase {
	case evaluator.Acting:
		s = "acting: this reply is sent on every poll while the rules or overrides ask for it"
	case evaluator.Restoring:
		if d.QuietAt.IsZero() {
			s = "restoring: restore_for is always, the full state is sent on every poll"
		} else {
			s = fmt.Sprintf("restoring: plain %q from %s (in %s) if nothing changes", d.Op, d.QuietAt.Format(time.RFC3339), d.QuietAt.Sub(now).Round(time.Millisecond))
		}
	default:
		s = "quiet: only the operational word, so what an operator set on HAProxy stays"
	}
	if r := d.Ramp; r != nil {
		s += fmt.Sprintf("; weight ramp from %d%% to %d%% until %s", r.From, r.To, r.Until.Format(time.RFC3339))
	}
	return s
}
