package collect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

// Collector reads the sources of one rule file. It holds, per metric, the
// last good value and when it was read, so that a value outlives failed
// reads until the file's stale_after. Build a new Collector for a new rule
// file, and Carry the old one's state over.
//
// Collect may be called from one goroutine at a time; calls are serialized.
type Collector struct {
	file    *rules.File
	sources []*sourceState
	// hold keeps the last good value of every metric; holdMu guards it
	// against the per-source goroutines of one Collect.
	hold   *Holder
	holdMu sync.Mutex

	mu sync.Mutex
}

type sourceState struct {
	src     *rules.Source
	reader  sample.Reader
	metrics []*rules.Metric
	// use tracks the reader's Read in flight; it goes with the reader
	// when the reader is carried to the next collector.
	use         *readerUse
	lastSuccess time.Time
}

// readerUse is the in-flight accounting of one reader, shared by every
// collector the reader is carried to.
type readerUse struct {
	mu sync.Mutex
	// busy is set while a Read runs; a Read that outlives its timeout
	// keeps it set, and the source is not read again until it returns.
	busy bool
	// closeWhenDone asks the Read in flight to close the reader when it
	// returns: its collector was closed meanwhile.
	closeWhenDone bool
}

// start marks a Read as started; false if one is already running.
func (u *readerUse) start() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.busy {
		return false
	}
	u.busy = true
	return true
}

// done marks the Read as finished and closes r if its collector was
// closed while it ran.
func (u *readerUse) done(r sample.Reader) {
	u.mu.Lock()
	u.busy = false
	closing := u.closeWhenDone
	u.mu.Unlock()
	if closing {
		closeReader(r)
	}
}

// close closes r now if no Read runs, else leaves it to that Read.
func (u *readerUse) close(r sample.Reader) {
	u.mu.Lock()
	busy := u.busy
	u.closeWhenDone = busy
	u.mu.Unlock()
	if !busy {
		closeReader(r)
	}
}

// New builds a collector for file, building the reader of every source that
// a metric reads. Any error leaves nothing behind, so that a reload can
// fail before anything changes.
func New(file *rules.File, newReader sample.NewReaderFunc) (*Collector, error) {
	if file.StaleAfter <= 0 {
		return nil, fmt.Errorf("stale_after %s: must be greater than 0", file.StaleAfter)
	}
	c := &Collector{file: file, hold: NewHolder(file.StaleAfter)}
	byName := map[string]*sourceState{}
	for _, src := range file.Sources {
		if src.Timeout <= 0 {
			return nil, fmt.Errorf("source %q: timeout %s: must be greater than 0", src.Name, src.Timeout)
		}
		s := &sourceState{src: src, use: new(readerUse)}
		byName[src.Name] = s
	}
	used := map[string]bool{}
	metrics := file.Metrics
	if file.Fleet != nil && file.Fleet.Discovery != nil {
		metrics = append(slices.Clip(metrics), file.Fleet.Discovery)
	}
	for _, m := range metrics {
		s := byName[m.Source]
		if s == nil {
			return nil, fmt.Errorf("metric %q: unknown source %q", m.Name, m.Source)
		}
		s.metrics = append(s.metrics, m)
		used[m.Source] = true
	}
	for _, src := range file.Sources {
		if !used[src.Name] {
			continue
		}
		s := byName[src.Name]
		r, err := newReader(src)
		if err != nil {
			c.closeReaders()
			return nil, fmt.Errorf("source %q: %w", src.Name, err)
		}
		s.reader = r
		c.sources = append(c.sources, s)
	}
	return c, nil
}

// Collect reads every source once, concurrently, each within its timeout,
// and returns every metric's value as of now. Sources are read with real
// time; now is only used for the ages of values and for staleness.
func (c *Collector) Collect(ctx context.Context, now time.Time) *Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	res := &Result{
		Time:    now,
		Metrics: make([]MetricValue, len(c.file.Metrics)),
		Sources: make([]SourceHealth, len(c.sources)),
	}
	if fl := c.file.Fleet; fl != nil && fl.Discovery != nil {
		res.Discovery = new(MetricValue)
	}
	var wg sync.WaitGroup
	for i, s := range c.sources {
		wg.Go(func() {
			res.Sources[i] = c.collectSource(ctx, s, now, res)
		})
	}
	wg.Wait()
	if fl := c.file.Fleet; fl != nil {
		res.Servers = fl.Static
		if d := res.Discovery; d != nil {
			res.Servers = Discovered(d)
		}
	}
	return res
}

// collectSource reads one source and fills in its metrics' values.
func (c *Collector) collectSource(ctx context.Context, s *sourceState, now time.Time, res *Result) SourceHealth {
	start := time.Now()
	readings, err := c.read(ctx, s)
	h := SourceHealth{Name: s.src.Name, Kind: string(s.src.Kind), Duration: time.Since(start)}
	if err == nil && len(readings) != len(s.metrics) {
		err = fmt.Errorf("reader returned %d readings for %d metrics", len(readings), len(s.metrics))
	}
	if err == nil {
		h.Up = true
		s.lastSuccess = now
	} else {
		h.Err = err.Error()
	}
	h.LastSuccess = s.lastSuccess
	for i, m := range s.metrics {
		r := sample.Reading{Err: err}
		if err == nil {
			r = readings[i]
		}
		c.holdMu.Lock()
		mv := c.hold.ObserveReading(m, r, now)
		c.holdMu.Unlock()
		if m.Index < 0 {
			*res.Discovery = mv
			continue
		}
		res.Metrics[m.Index] = mv
	}
	return h
}

// read runs the source's Read within its timeout. A reader that ignores
// its context does not hold up the cycle: its result is dropped (an
// sample.Outcome reader's after its grace).
func (c *Collector) read(ctx context.Context, s *sourceState) ([]sample.Reading, error) {
	timeout := s.src.Timeout
	if !s.use.start() {
		return nil, errors.New("previous read still running")
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		rs  []sample.Reading
		err error
	}
	done := make(chan result, 1)
	// The goroutine may outlive this cycle, and Carry may then hand the
	// reader to the next collector: it must not look at s again.
	reader, use, metrics := s.reader, s.use, s.metrics
	go func() {
		rs, err := reader.Read(rctx, metrics)
		// Free the source before handing the result over, so that the
		// next cycle, which may start as soon as this one returns, finds
		// it free.
		use.done(reader)
		done <- result{rs, err}
	}()
	// A reader whose read has an outcome at its deadline (a probe's
	// success 0) is waited for a little longer, so that a loaded machine
	// does not turn that outcome into a failed read.
	cutoff := rctx.Done()
	if o, ok := reader.(sample.Outcome); ok {
		d, _ := rctx.Deadline()
		graceCtx, stop := context.WithDeadline(context.WithoutCancel(rctx), d.Add(o.ResultGrace()))
		defer stop()
		cutoff = graceCtx.Done()
	}
	var r result
	select {
	case r = <-done:
	case <-cutoff:
		r.err = rctx.Err()
		if r.err == nil {
			r.err = context.DeadlineExceeded
		}
	}
	if r.err != nil && rctx.Err() != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("collect: %w", ctx.Err())
		}
		var te *sample.TimeoutError
		if !errors.As(r.err, &te) {
			r.err = &sample.TimeoutError{After: timeout}
		}
	}
	return r.rs, r.err
}

// Carry takes over from old, the collector of the previous rule file, what
// still applies: the reader (with its rate and CPU state) of every source
// whose settings are unchanged, and the last good value of every metric
// that reads the same thing from such a source. Call it before the first
// Collect; old must not be used afterwards except for Close.
func (c *Collector) Carry(old *Collector) {
	if old == nil || old == c {
		return
	}
	old.mu.Lock()
	defer old.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := map[string]bool{}
	for _, s := range c.sources {
		for _, o := range old.sources {
			if o.reader == nil || o.src.Name != s.src.Name || !sameSource(o.src, s.src) {
				continue
			}
			closeReader(s.reader)
			s.reader, s.use, s.lastSuccess = o.reader, o.use, o.lastSuccess
			o.reader = nil
			kept[s.src.Name] = true
		}
	}
	for _, m := range c.file.Metrics {
		if !kept[m.Source] {
			continue
		}
		om := old.file.Metric(m.Name)
		if om != nil && sameMetric(om, m) {
			c.hold.Carry(old.hold, m.Name)
		}
	}
	// The servers discovered last stay known over a reload that keeps
	// the discovery query.
	if c.file.Fleet != nil && old.file.Fleet != nil {
		d, od := c.file.Fleet.Discovery, old.file.Fleet.Discovery
		if d != nil && od != nil && kept[d.Source] && sameMetric(d, od) {
			c.hold.Carry(old.hold, d.Name)
		}
	}
}

// Close closes the readers the collector still owns (those not carried to
// a newer collector) that implement io.Closer: idle HTTP connections, for
// instance. It never waits for a Read: a reader whose Read is still
// running, stuck past its timeout, is closed by that Read when it returns.
// So the evaluation loop can close a collector at every reload and at
// shutdown without a stuck source holding it up.
func (c *Collector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sources {
		if s.reader != nil {
			s.use.close(s.reader)
			s.reader = nil
		}
	}
	return nil
}

func (c *Collector) closeReaders() {
	for _, s := range c.sources {
		closeReader(s.reader)
		s.reader = nil
	}
}

func closeReader(r sample.Reader) {
	if cl, ok := r.(io.Closer); ok {
		_ = cl.Close()
	}
}

func sameSource(a, b *rules.Source) bool {
	x, y := *a, *b
	x.Pos, y.Pos = rules.Pos{}, rules.Pos{}
	return reflect.DeepEqual(x, y)
}

func sameMetric(a, b *rules.Metric) bool {
	return a.Source == b.Source && a.Selector == b.Selector && a.Query == b.Query &&
		a.Aggregate == b.Aggregate && a.Rate == b.Rate && a.ByLabel == b.ByLabel
}
