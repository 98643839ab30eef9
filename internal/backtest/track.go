package backtest

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/rules"
)

// Target is what the rules did for one service or fleet server.
type Target struct {
	Name string `json:"name"`
	// Initial is what the agent wanted at the first step it knew the
	// target.
	Initial string `json:"initial"`
	// Changes are the changes of what the agent wanted, in time order.
	Changes []Change `json:"changes"`
	Totals  Totals   `json:"totals"`
	// Timeline is the text timeline (see Timeline), one character per
	// bucket of steps.
	Timeline string `json:"timeline"`

	// spans hold the timeline code and the want of every step, one span
	// per run of steps alike: a run costs what its changes cost, not
	// what its steps do.
	spans  []span
	table  []string
	byText map[string]int32
	// changeSteps are the steps of Changes.
	changeSteps []int
	last        int32
	outRun      int
	held        bool
	lastStep    int
}

// Change is one change of what the agent wanted.
type Change struct {
	Time time.Time `json:"time"`
	From string    `json:"from"`
	To   string    `json:"to"`
	// Firing names the rules firing after the change.
	Firing []string `json:"firing"`
}

// Totals sum a target's run. Every evaluation stands for one step of
// simulated time.
type Totals struct {
	// OutSeconds is the time out of rotation: down, drain or maint.
	OutSeconds float64 `json:"out_seconds"`
	// ReducedWeightSeconds is the time in rotation at a weight below the
	// file's default (ramps included).
	ReducedWeightSeconds float64 `json:"reduced_weight_seconds"`
	// Changes counts the changes of what the agent wanted.
	Changes int `json:"changes"`
	// LongestOutSeconds is the longest time out of rotation without a
	// break.
	LongestOutSeconds float64 `json:"longest_out_seconds"`
	// GuardrailHolds counts the times the guardrail started holding the
	// server in rotation; HeldSeconds is how long it held it in all.
	GuardrailHolds int     `json:"guardrail_holds"`
	HeldSeconds    float64 `json:"held_seconds"`
}

// span is a run of steps, from its first to the next span's, with one
// timeline code and one want (an index in the target's table, -1 where
// the target was not known).
type span struct {
	from int32
	code byte
	want int32
}

// Timeline codes, worst first.
const (
	codeUnknown = ' '
	codeUp      = '.'
	codeWeight  = 'w'
	codeHeld    = 'H'
	codeDrain   = 'D'
	codeMaint   = 'M'
	codeDown    = 'X'
)

// severity orders the codes: a bucket shows its worst step.
func severity(c byte) int {
	return strings.IndexByte(" .wHDMX", c)
}

// recorder follows every target over a run.
type recorder struct {
	file    *rules.File
	n       int
	rng     Range
	step    float64
	targets map[string]*Target
	order   []*Target
}

func newRecorder(f *rules.File, n int, r Range) *recorder {
	return &recorder{file: f, n: n, rng: r, step: r.Step.Seconds(), targets: map[string]*Target{}}
}

func (r *recorder) target(name string) *Target {
	t := r.targets[name]
	if t == nil {
		t = &Target{Name: name, Changes: []Change{}, byText: map[string]int32{}, last: -1, lastStep: -1}
		r.targets[name] = t
		r.order = append(r.order, t)
	}
	return t
}

// add records the decisions of step k.
func (r *recorder) add(k int, now time.Time, res *evaluator.Result) {
	ds := res.Services
	if r.file.Fleet != nil {
		ds = res.Servers
	}
	for _, d := range ds {
		name := d.Service
		if r.file.Fleet != nil {
			name = d.Server
		}
		r.target(name).add(r, k, now, d)
	}
}

func (t *Target) add(r *recorder, k int, now time.Time, d *evaluator.Decision) {
	t.gap(k)
	t.lastStep = k
	text := Want(d)
	id, ok := t.byText[text]
	if !ok {
		id = int32(len(t.table))
		t.table = append(t.table, text)
		t.byText[text] = id
	}
	switch {
	case t.last < 0:
		t.Initial = text
	case id != t.last:
		t.Changes = append(t.Changes, Change{Time: now, From: t.table[t.last], To: text, Firing: append([]string{}, d.Firing...)})
		t.changeSteps = append(t.changeSteps, k)
	}
	t.last = id
	code := byte(codeUp)
	switch {
	case d.Op.IsDown():
		code = codeDown
	case d.Admin == rules.Maint:
		code = codeMaint
	case d.Admin == rules.Drain:
		code = codeDrain
	case d.Held:
		code = codeHeld
	case d.Weight < r.file.Reply.Default.Weight:
		code = codeWeight
	}
	t.mark(k, code, id)
	if d.Out() {
		t.outRun++
		t.Totals.OutSeconds += r.step
		t.Totals.LongestOutSeconds = max(t.Totals.LongestOutSeconds, float64(t.outRun)*r.step)
	} else {
		t.outRun = 0
		if d.Weight < r.file.Reply.Default.Weight {
			t.Totals.ReducedWeightSeconds += r.step
		}
	}
	if d.Held {
		t.Totals.HeldSeconds += r.step
		if !t.held {
			t.Totals.GuardrailHolds++
		}
	}
	t.held = d.Held
}

// gap marks the steps before k since the target was last seen as
// unknown: a fleet server discovery did not list.
func (t *Target) gap(k int) {
	if k > t.lastStep+1 {
		t.mark(t.lastStep+1, codeUnknown, -1)
		t.outRun, t.held = 0, false
	}
}

// mark records that step k and the steps after it, until the next mark,
// have code and want.
func (t *Target) mark(k int, code byte, want int32) {
	if n := len(t.spans); n > 0 && t.spans[n-1].code == code && t.spans[n-1].want == want {
		return
	}
	t.spans = append(t.spans, span{from: int32(k), code: code, want: want})
}

// wantAt returns the want of the span holding step k, from span i on, and
// the index of that span.
func (t *Target) wantAt(k, i int) (int32, int) {
	for i+1 < len(t.spans) && int(t.spans[i+1].from) <= k {
		i++
	}
	return t.spans[i].want, i
}

func (r *recorder) finish() *Run {
	run := &Run{rng: r.rng, Services: []*Target{}}
	for _, t := range r.order {
		t.gap(r.n)
		t.Totals.Changes = len(t.Changes)
		t.Timeline = timeline(t.spans, r.n, t.changeSteps, TimelineWidth)
	}
	if r.file.Fleet != nil {
		run.Servers = slices.Clone(r.order)
		slices.SortFunc(run.Servers, func(a, b *Target) int { return strings.Compare(a.Name, b.Name) })
		if run.Servers == nil {
			run.Servers = []*Target{}
		}
		return run
	}
	run.Services = r.order
	return run
}

// Want renders what a decision wants, as a reply would say it in full
// without its description: "up drain 100%", "down maint 50% maxconn:10",
// with " (held by guardrail)" for a server the guardrail holds. A ramp
// in progress counts as its target weight, and maxconn:0 (no limit) as no
// maxconn, so that neither a ramp's steps nor the end of a restore window
// is a change.
func Want(d *evaluator.Decision) string {
	w := d.Weight
	if d.Ramp != nil {
		w = d.Ramp.To
	}
	s := d.Op.String() + " " + d.Admin.String() + " " + strconv.Itoa(w) + "%"
	if d.Maxconn > 0 {
		s += " maxconn:" + strconv.Itoa(d.Maxconn)
	}
	if d.Held {
		s += " (held by guardrail)"
	}
	return s
}
