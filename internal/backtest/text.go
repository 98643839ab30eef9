package backtest

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/model"
)

// nameWidth is the room a service or server name takes before its
// timeline; longer names are cut.
const nameWidth = 16

// WriteText prints the report for people: per service or server its
// changes and totals (side by side with the baseline's), the timelines,
// and with a baseline the times the replies differ. In fleet mode the
// servers whose reply never changed are counted, not listed.
func (rep *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	r := rep.rng
	fmt.Fprintf(ew, "Backtest of %s from %s to %s, step %s: %d evaluations\n", rep.RulesFile,
		r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339), fmtDur(r.Step.Seconds()), r.Steps())
	if rep.Baseline != nil {
		fmt.Fprintf(ew, "Baseline %s over the same data\n", rep.Baseline.RulesFile)
	}
	if len(rep.NoData) > 0 {
		fmt.Fprintf(ew, "No data at all for %s: missing at every step (check the query)\n", strings.Join(rep.NoData, ", "))
	}
	if rep.Baseline != nil && len(rep.Baseline.NoData) > 0 {
		fmt.Fprintf(ew, "No data at all for the baseline's %s: missing at every step\n", strings.Join(rep.Baseline.NoData, ", "))
	}
	kind := "service"
	if rep.fleet {
		kind = "server"
	}
	var quiet []string
	var shown []*Target
	for _, t := range rep.targets() {
		var b *Target
		if rep.Baseline != nil {
			b = rep.Baseline.Target(t.Name)
		}
		if rep.fleet && quietTarget(t) && (b == nil || quietTarget(b)) && len(rep.targets()) > 1 {
			quiet = append(quiet, t.Name)
			continue
		}
		shown = append(shown, t)
		fmt.Fprintf(ew, "\n%s %s\n", kind, t.Name)
		rep.writeTarget(ew, t, b)
	}
	if rep.fleet && len(rep.targets()) == 0 {
		// Else the report would end here with no word about servers.
		fmt.Fprintf(ew, "\nNo server known at any step: the fleet's discovery query named none over the range (check fleet.servers: its query and label)\n")
	}
	if len(quiet) > 0 {
		fmt.Fprintf(ew, "\n%d %ss always in rotation at full weight, never changed: %s\n", len(quiet), kind, cutList(quiet, 90))
	}
	if len(shown) > 0 {
		fmt.Fprintf(ew, "\nTimeline, one character per %s:\n  %s\n", fmtDur(rep.BucketSeconds), TimelineLegend)
		for _, t := range shown {
			fmt.Fprintf(ew, "  %-*s |%s|\n", nameWidth, cut(t.Name, nameWidth), t.Timeline)
			if rep.Baseline != nil {
				if b := rep.Baseline.Target(t.Name); b != nil {
					fmt.Fprintf(ew, "  %-*s |%s|\n", nameWidth, cut("  baseline", nameWidth), b.Timeline)
				}
			}
		}
		fmt.Fprintf(ew, "  %-*s  %s\n", nameWidth, "", axis(r, len(shown[0].Timeline)))
	}
	if rep.Baseline != nil {
		if len(rep.Differences) == 0 {
			fmt.Fprintf(ew, "\nThe replies of %s and %s never differ.\n", base(rep.RulesFile), base(rep.Baseline.RulesFile))
		} else {
			fmt.Fprintf(ew, "\nThe replies differ (%s | %s):\n", base(rep.RulesFile), base(rep.Baseline.RulesFile))
			for _, d := range rep.Differences {
				fmt.Fprintf(ew, "  %s %s to %s (%s): %s | %s\n", d.Name, d.Start.Format(time.RFC3339), d.End.Format(time.RFC3339),
					fmtDur(d.Seconds), orNone(d.Rules), orNone(d.Baseline))
			}
		}
	}
	return ew.err
}

// writeTarget prints one target's changes and totals, with the
// baseline's beside them when b is not nil.
func (rep *Report) writeTarget(w io.Writer, t, b *Target) {
	writeChanges(w, "", t)
	if b == nil {
		x := t.Totals
		fmt.Fprintf(w, "  out of rotation %s (longest %s), reduced weight %s, %s, guardrail holds %d",
			fmtDur(x.OutSeconds), fmtDur(x.LongestOutSeconds), fmtDur(x.ReducedWeightSeconds), changes(x.Changes), x.GuardrailHolds)
		if x.HeldSeconds > 0 {
			fmt.Fprintf(w, " (held %s)", fmtDur(x.HeldSeconds))
		}
		fmt.Fprintln(w)
		return
	}
	writeChanges(w, "baseline ", b)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  \t%s\t%s\n", cut(base(rep.RulesFile), 30), cut("baseline "+base(rep.Baseline.RulesFile), 40))
	x, y := t.Totals, b.Totals
	fmt.Fprintf(tw, "  out of rotation\t%s\t%s\n", fmtDur(x.OutSeconds), fmtDur(y.OutSeconds))
	fmt.Fprintf(tw, "  longest out\t%s\t%s\n", fmtDur(x.LongestOutSeconds), fmtDur(y.LongestOutSeconds))
	fmt.Fprintf(tw, "  reduced weight\t%s\t%s\n", fmtDur(x.ReducedWeightSeconds), fmtDur(y.ReducedWeightSeconds))
	fmt.Fprintf(tw, "  changes\t%d\t%d\n", x.Changes, y.Changes)
	fmt.Fprintf(tw, "  guardrail holds\t%d\t%d\n", x.GuardrailHolds, y.GuardrailHolds)
	_ = tw.Flush()
}

func writeChanges(w io.Writer, who string, t *Target) {
	fmt.Fprintf(w, "  %sinitially %s\n", who, t.Initial)
	for _, c := range t.Changes {
		fmt.Fprintf(w, "  %s%s  %s -> %s", who, c.Time.Format(time.RFC3339), c.From, c.To)
		if len(c.Firing) > 0 {
			fmt.Fprintf(w, "  firing: %s", strings.Join(c.Firing, ", "))
		}
		fmt.Fprintln(w)
	}
}

// quietTarget reports whether a target was in rotation at full weight
// throughout and never changed.
func quietTarget(t *Target) bool {
	x := t.Totals
	return x.Changes == 0 && x.OutSeconds == 0 && x.ReducedWeightSeconds == 0 && x.HeldSeconds == 0
}

// axis labels a timeline of width characters with the range's start and end.
func axis(r Range, width int) string {
	a, b := r.Start.Format("2006-01-02 15:04"), r.End.Format("2006-01-02 15:04")
	if r.End.Sub(r.Start) < 24*time.Hour && r.Start.YearDay() == r.End.YearDay() {
		b = r.End.Format("15:04")
	}
	gap := width + 2 - len(a) - len(b)
	if gap < 1 {
		return a + " to " + b
	}
	return a + strings.Repeat(" ", gap) + b
}

// fmtDur renders seconds as the rule file writes durations (1h30m, 15s).
func fmtDur(s float64) string {
	return model.Duration(time.Duration(s * float64(time.Second))).String()
}

// changes counts changes in words: "1 change", "2 changes".
func changes(n int) string {
	if n == 1 {
		return "1 change"
	}
	return fmt.Sprintf("%d changes", n)
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "~"
}

func cutList(names []string, n int) string {
	s := strings.Join(names, ", ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func base(p string) string { return filepath.Base(p) }

func orNone(s string) string {
	if s == "" {
		return "(not known)"
	}
	return s
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, nil
}
