package statuspage

import (
	"iter"
	"math"
	"sync"
	"time"
)

// Window is how far back the charts look.
const Window = time.Hour

// MinStep is the finest step the charts keep: with a shorter evaluation
// interval, several cycles share a step and the last one's value is kept.
const MinStep = 5 * time.Second

// MaxChanges is how many reply changes History keeps.
const MaxChanges = 50

// History keeps, bounded, what the charts and the change list show: per
// series key one value per step over Window (a fixed ring, Window/step
// float32 values, whatever the number of cycles), and the last MaxChanges
// reply changes. The agent's loop writes it; page requests read it.
type History struct {
	mu     sync.Mutex
	step   time.Duration
	series map[string]*series
	// changes is a ring of the last MaxChanges changes; next is where the
	// next one goes.
	changes []Change
	next    int
	// sourceErrs is the last failed read per source.
	sourceErrs map[string]SourceError
	// replies is each target's reply and since when it has had it, as of
	// the evaluation gen.
	replies map[string]*heldReply
	gen     uint64
	// scratch holds a series' window while it is reduced to a chart's
	// columns.
	scratch []float32
}

// Sample is one value of one series at one cycle. A NaN value (a missing
// metric) leaves a gap in the chart.
type Sample struct {
	Key   string
	Value float64
}

// Change is one change of a reply.
type Change struct {
	Time time.Time
	// Target is the service or fleet server whose reply changed.
	Target string
	From   string
	To     string
	// Why says what made the new reply: the firing rules and overrides.
	Why string
}

// StepFor returns the chart step for an evaluation interval: the interval,
// but at least MinStep and at most Window.
func StepFor(interval time.Duration) time.Duration {
	return min(max(interval, MinStep), Window)
}

// NewHistory returns an empty History whose charts have one point per step.
func NewHistory(step time.Duration) *History {
	return &History{step: StepFor(step), series: map[string]*series{}}
}

// SetStep changes the step, for an evaluation interval changed by a
// reload. The charts start over when the step really changes: values taken
// at different steps do not share a ring.
func (h *History) SetStep(step time.Duration) {
	step = StepFor(step)
	h.mu.Lock()
	defer h.mu.Unlock()
	if step != h.step {
		h.step = step
		clear(h.series)
	}
}

// points is how many steps Window holds.
func (h *History) points() int { return int(Window / h.step) }

// Record stores one cycle's samples at time t. Series that are not among
// them and have no value left in Window are dropped (a metric removed by a
// reload).
func (h *History) Record(t time.Time, samples []Sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	slot := t.UnixNano() / int64(h.step)
	n := h.points()
	for _, s := range samples {
		se := h.series[s.Key]
		if se == nil {
			se = newSeries(n)
			h.series[s.Key] = se
		}
		se.add(slot, s.Value)
	}
	for k, se := range h.series {
		if slot-se.last >= int64(n) {
			delete(h.series, k)
		}
	}
}

// AddChange records a reply change, dropping the oldest past MaxChanges.
func (h *History) AddChange(c Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.changes) < MaxChanges {
		h.changes = append(h.changes, c)
		return
	}
	h.changes[h.next] = c
	h.next = (h.next + 1) % MaxChanges
}

// Changes returns the recorded changes, newest first.
func (h *History) Changes() []Change {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Change, 0, len(h.changes))
	for i := range h.changes {
		// The newest is just before next (next stays 0 while filling).
		j := (h.next - 1 - i + 2*len(h.changes)) % len(h.changes)
		out = append(out, h.changes[j])
	}
	return out
}

// Spark returns the series key over the Window ending at now, reduced to
// a chart's columns; ok is false when the series is unknown.
func (h *History) Spark(key string, now time.Time) (Spark, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	se := h.series[key]
	if se == nil {
		return Spark{}, false
	}
	slot := now.UnixNano() / int64(h.step)
	// Page loads within one step see the same chart: draw it once.
	if se.drawn && se.drawnAt == slot && se.drawnVersion == se.version {
		return se.spark, true
	}
	// Drawing happens under the lock, so one scratch window serves all.
	if len(h.scratch) != h.points() {
		h.scratch = make([]float32, h.points())
	}
	se.window(slot, h.scratch)
	se.spark = newSpark(h.scratch)
	se.drawn, se.drawnAt, se.drawnVersion = true, slot, se.version
	return se.spark, true
}

// series is a ring of one value per step; NaN marks a step with none.
type series struct {
	vals []float32
	// last is the step number of the newest value.
	last int64
	seen bool
	// version counts writes; spark is the window reduced at step drawnAt
	// after write drawnVersion.
	version      uint64
	drawn        bool
	drawnAt      int64
	drawnVersion uint64
	spark        Spark
}

func newSeries(n int) *series {
	s := &series{vals: make([]float32, n)}
	for i := range s.vals {
		s.vals[i] = nan32
	}
	return s
}

func (s *series) add(slot int64, v float64) {
	n := int64(len(s.vals))
	if s.seen {
		if slot < s.last {
			return // the clock went back: keep what is there
		}
		for k := s.last + 1; k < slot && k <= s.last+n; k++ {
			s.vals[k%n] = nan32
		}
	}
	s.vals[slot%n] = float32(v)
	s.last, s.seen = slot, true
	s.version++
}

// window fills dst (len(s.vals) long) with the values of the steps ending
// at step now, oldest first.
func (s *series) window(now int64, dst []float32) {
	n := int64(len(s.vals))
	first := now - n + 1
	i := 0
	for ; i < len(dst) && (!s.seen || first+int64(i) <= s.last-n || first+int64(i) < 0); i++ {
		dst[i] = nan32
	}
	// From here on every step up to s.last is in the ring, in order.
	j := (first + int64(i)) % n
	for ; i < len(dst) && first+int64(i) <= s.last; i++ {
		dst[i] = s.vals[j]
		if j++; j == n {
			j = 0
		}
	}
	for ; i < len(dst); i++ {
		dst[i] = nan32
	}
}

var nan32 = float32(math.NaN())

// heldReply is a target's current reply and since when it has had it;
// start says it has had it since the agent first saw the target.
type heldReply struct {
	reply string
	since time.Time
	start bool
	gen   uint64
}

// NoteReplies records the replies of one evaluation at time t, each
// target by name (a service, a fleet server); a target missing from them
// is forgotten. Since then says since when each has had its reply.
func (h *History) NoteReplies(t time.Time, replies iter.Seq2[string, string]) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.replies == nil {
		h.replies = map[string]*heldReply{}
	}
	h.gen++
	for name, reply := range replies {
		r := h.replies[name]
		switch {
		case r == nil:
			h.replies[name] = &heldReply{reply: reply, since: t, start: true, gen: h.gen}
			continue
		case r.reply != reply:
			r.reply, r.since, r.start = reply, t, false
		}
		r.gen = h.gen
	}
	for name, r := range h.replies {
		if r.gen != h.gen {
			delete(h.replies, name)
		}
	}
}

// Since returns since when the target has had its current reply; start
// says it has had it since the agent first saw the target (it may be
// older); ok is false for a target never noted.
func (h *History) Since(name string) (since time.Time, start, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.replies[name]
	if r == nil {
		return time.Time{}, false, false
	}
	return r.since, r.start, true
}

// SourceError is the last failed read of a source.
type SourceError struct {
	Time time.Time
	Err  string
}

// NoteSourceError remembers a source's failed read, so that the page can
// show the last error after the source has recovered.
func (h *History) NoteSourceError(source string, t time.Time, err string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sourceErrs == nil {
		h.sourceErrs = map[string]SourceError{}
	}
	h.sourceErrs[source] = SourceError{Time: t, Err: err}
}

// LastSourceError returns the source's last failed read, if any.
func (h *History) LastSourceError(source string) (SourceError, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.sourceErrs[source]
	return e, ok
}
