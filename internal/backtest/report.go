package backtest

import (
	"time"
)

// Report is what `agent backtest` prints: a rule file's run, and with a
// baseline the baseline's run over the same data and where their replies
// differ. Its JSON field names are stable.
type Report struct {
	RulesFile   string    `json:"rules_file"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	StepSeconds float64   `json:"step_seconds"`
	Steps       int       `json:"steps"`
	// BucketSeconds is the simulated time one timeline character stands for.
	BucketSeconds float64 `json:"timeline_bucket_seconds"`
	// Services and Servers are the rule file's run (Servers in fleet mode).
	Services []*Target `json:"services"`
	Servers  []*Target `json:"servers,omitempty"`
	// Baseline is the baseline file's run over the same data; nil without
	// --baseline.
	Baseline *Run `json:"baseline,omitempty"`
	// Differences are the times the two files' replies differ; nil
	// without a baseline.
	Differences []Difference `json:"differences,omitempty"`
	// NoData names the rule file's metrics that had no series at all over
	// the range.
	NoData []string `json:"no_data,omitempty"`

	fleet bool
	rng   Range
}

// Difference is a stretch of time during which the rule file wanted one
// thing for a service or server and the baseline another.
type Difference struct {
	Name    string    `json:"name"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Seconds float64   `json:"seconds"`
	// Rules and Baseline are what each file wanted ("" where a file did
	// not know the server).
	Rules    string `json:"rules"`
	Baseline string `json:"baseline"`
}

// NewReport builds the report of run, compared with baseline when it is
// not nil, keeping only the target named only when it is not empty.
func NewReport(run, baseline *Run, only string) *Report {
	r := run.rng
	rep := &Report{
		RulesFile: run.RulesFile, Start: r.Start, End: r.End, StepSeconds: r.Step.Seconds(), Steps: r.Steps(),
		BucketSeconds: r.BucketDuration().Seconds(), Services: run.Services, Servers: run.Servers,
		NoData: run.NoData, fleet: run.Servers != nil, rng: r,
	}
	if only != "" {
		rep.Services, rep.Servers = keep(rep.Services, only), keep(rep.Servers, only)
	}
	if baseline == nil {
		return rep
	}
	b := *baseline
	if only != "" {
		b.Services, b.Servers = keep(b.Services, only), keep(b.Servers, only)
	}
	rep.Baseline = &b
	rep.Differences = []Difference{}
	for _, t := range rep.targets() {
		if o := b.Target(t.Name); o != nil {
			rep.Differences = append(rep.Differences, differ(r, t, o)...)
		}
	}
	return rep
}

func keep(ts []*Target, name string) []*Target {
	if ts == nil {
		return nil
	}
	out := []*Target{}
	for _, t := range ts {
		if t.Name == name {
			out = append(out, t)
		}
	}
	return out
}

func (rep *Report) targets() []*Target {
	if rep.fleet {
		return rep.Servers
	}
	return rep.Services
}

// differ returns the stretches where a and b want different things, over
// the n steps of r.
func differ(r Range, a, b *Target) []Difference {
	var out []Difference
	text := func(t *Target, w int32) string {
		if w < 0 {
			return ""
		}
		return t.table[w]
	}
	n := r.Steps()
	var cur *Difference
	var i, j int
	// Only the steps where a span of a or b starts can change anything.
	for k := 0; k < n; {
		var wa, wb int32
		wa, i = a.wantAt(k, i)
		wb, j = b.wantAt(k, j)
		x, y := text(a, wa), text(b, wb)
		if cur != nil && (x != cur.Rules || y != cur.Baseline) {
			cur.End = r.At(k)
			cur.Seconds = cur.End.Sub(cur.Start).Seconds()
			out = append(out, *cur)
			cur = nil
		}
		if x != y && cur == nil {
			cur = &Difference{Name: a.Name, Start: r.At(k), Rules: x, Baseline: y}
		}
		next := n
		if i+1 < len(a.spans) {
			next = min(next, int(a.spans[i+1].from))
		}
		if j+1 < len(b.spans) {
			next = min(next, int(b.spans[j+1].from))
		}
		k = next
	}
	if cur != nil {
		cur.End = r.At(n)
		cur.Seconds = cur.End.Sub(cur.Start).Seconds()
		out = append(out, *cur)
	}
	return out
}
