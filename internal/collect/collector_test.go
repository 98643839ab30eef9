package collect_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/haproxy-agent/agent/internal/collect"
	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fake is a Reader whose next results the test sets.
type fake struct {
	mu    sync.Mutex
	value float64
	err   error
	delay time.Duration
	age   time.Duration
	reads int
}

func (f *fake) set(v float64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.value, f.err = v, err
}

func (f *fake) Read(ctx context.Context, ms []*rules.Metric) ([]sample.Reading, error) {
	f.mu.Lock()
	v, err, delay, age := f.value, f.err, f.delay, f.age
	f.reads++
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	out := make([]sample.Reading, len(ms))
	for i := range ms {
		out[i] = sample.Reading{Value: v, Age: age}
	}
	return out, nil
}

func file(staleAfter time.Duration, sources ...string) *rules.File {
	if staleAfter == 0 {
		staleAfter = 3 * time.Second
	}
	f := &rules.File{Interval: time.Second, StaleAfter: staleAfter}
	for _, s := range sources {
		f.Sources = append(f.Sources, &rules.Source{Name: s, Kind: rules.KindScrape, Timeout: 200 * time.Millisecond, Config: &rules.ScrapeConfig{URL: "http://" + s}})
		f.Metrics = append(f.Metrics, &rules.Metric{Name: s + "_m", Index: len(f.Metrics), Source: s, Selector: "x"})
	}
	return f
}

func newCollector(t *testing.T, f *rules.File, readers map[string]*fake) *collect.Collector {
	t.Helper()
	c, err := collect.New(f, func(src *rules.Source) (sample.Reader, error) {
		return readers[src.Name], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestStaleAfter(t *testing.T) {
	r := &fake{value: 7}
	c := newCollector(t, file(10*time.Second, "app"), map[string]*fake{"app": r})
	t0 := time.Unix(1_700_000_000, 0)
	ctx := context.Background()

	res := c.Collect(ctx, t0)
	if m := res.Metrics[0]; m.Value != 7 || m.Missing != "" || m.Age != 0 || !res.Sources[0].Up {
		t.Fatalf("first read: %+v %+v", m, res.Sources[0])
	}
	r.set(0, errors.New("connection refused"))
	res = c.Collect(ctx, t0.Add(4*time.Second))
	if m := res.Metrics[0]; m.Value != 7 || m.Missing != "" || m.Age != 4*time.Second || m.Err != "connection refused" {
		t.Errorf("held: %+v", m)
	}
	if s := res.Sources[0]; s.Up || s.Err != "connection refused" || !s.LastSuccess.Equal(t0) {
		t.Errorf("source: %+v", s)
	}
	res = c.Collect(ctx, t0.Add(10*time.Second))
	if m := res.Metrics[0]; m.Value != 7 || m.Missing != "" {
		t.Errorf("held at stale_after: %+v", m)
	}
	res = c.Collect(ctx, t0.Add(31*time.Second))
	if m := res.Metrics[0]; m.Missing != "stale: last good value 31s ago (connection refused)" || m.Value != 0 {
		t.Errorf("stale: %+v", m)
	}
	r.set(9, nil)
	res = c.Collect(ctx, t0.Add(32*time.Second))
	if m := res.Metrics[0]; m.Value != 9 || m.Missing != "" || m.Age != 0 {
		t.Errorf("recovered: %+v", m)
	}
}

func TestNeverGoodAndNaN(t *testing.T) {
	r := &fake{err: errors.New("HTTP 500 Internal Server Error")}
	c := newCollector(t, file(10*time.Second, "app"), map[string]*fake{"app": r})
	res := c.Collect(context.Background(), time.Now())
	if m := res.Metrics[0]; m.Missing != "HTTP 500 Internal Server Error" {
		t.Errorf("%+v", m)
	}
	r.set(nan(), nil)
	res = c.Collect(context.Background(), time.Now())
	if m := res.Metrics[0]; m.Missing != "value is NaN" {
		t.Errorf("%+v", m)
	}
}

func nan() float64 { var z float64; return z / z }

func TestSlowSourceDoesNotDelayOthers(t *testing.T) {
	// The slow source would take a minute: a collect that waited for it
	// instead of its 200ms timeout would be late by far more than any
	// stall of the machine.
	fast, slow := &fake{value: 1}, &fake{value: 2, delay: time.Minute}
	c := newCollector(t, file(10*time.Second, "fast", "slow"), map[string]*fake{"fast": fast, "slow": slow})
	start := time.Now()
	res := c.Collect(context.Background(), start)
	took := time.Since(start)
	if took > 30*time.Second {
		t.Errorf("collect took %s with a 200ms timeout", took)
	}
	if m := res.Metric("fast_m"); m.Value != 1 || m.Missing != "" {
		t.Errorf("fast: %+v", m)
	}
	if m := res.Metric("slow_m"); m.Missing != "timeout after 200ms" {
		t.Errorf("slow: %+v", m)
	}
	if s := res.Source("slow"); s.Up || s.Err != "timeout after 200ms" || s.Duration < 200*time.Millisecond {
		t.Errorf("slow source: %+v", s)
	}
	if s := res.Source("fast"); !s.Up {
		t.Errorf("fast source: %+v", s)
	}
}

// stubborn ignores its context; the collector must not wait for it.
type stubborn struct{ release chan struct{} }

func (s *stubborn) Read(context.Context, []*rules.Metric) ([]sample.Reading, error) {
	<-s.release
	return []sample.Reading{{Value: 1}}, nil
}

func TestReaderIgnoringContext(t *testing.T) {
	st := &stubborn{release: make(chan struct{})}
	c, err := collect.New(file(0, "app"), func(*rules.Source) (sample.Reader, error) { return st, nil })
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := c.Collect(context.Background(), start)
	// The reader never returns by itself: the bound catches a collect
	// that waited for it, not a slow machine.
	if time.Since(start) > 30*time.Second || res.Metrics[0].Missing != "timeout after 200ms" {
		t.Errorf("%+v after %s", res.Metrics[0], time.Since(start))
	}
	res = c.Collect(context.Background(), start)
	if res.Sources[0].Err != "previous read still running" {
		t.Errorf("%+v", res.Sources[0])
	}
	close(st.release)
	_ = c.Close()
}

// closer is a Reader that records being closed.
type closer struct {
	fake
	closed int
}

func (c *closer) Close() error { c.closed++; return nil }

func TestNewFailsBeforeAnything(t *testing.T) {
	var built []string
	a := &closer{}
	_, err := collect.New(file(0, "a", "b", "c"), func(src *rules.Source) (sample.Reader, error) {
		built = append(built, src.Name)
		if src.Name == "b" {
			return nil, errors.New("bad tls config")
		}
		return a, nil
	})
	if err == nil || err.Error() != `source "b": bad tls config` {
		t.Errorf("err = %v", err)
	}
	// Readers are built in file order and the first failure stops the
	// build: "c" is never built, and "a", built already, is closed.
	if len(built) != 2 || built[0] != "a" || built[1] != "b" {
		t.Errorf("built %v; want [a b]", built)
	}
	if a.closed != 1 {
		t.Errorf("reader a closed %d times; want 1", a.closed)
	}
}

func TestNewRefusesUnsetLimits(t *testing.T) {
	f := file(0, "a")
	f.Sources[0].Timeout = 0
	newFake := func(*rules.Source) (sample.Reader, error) { return &fake{}, nil }
	if _, err := collect.New(f, newFake); err == nil || err.Error() != `source "a": timeout 0s: must be greater than 0` {
		t.Errorf("err = %v", err)
	}
	f = file(0, "a")
	f.StaleAfter = 0
	if _, err := collect.New(f, newFake); err == nil || err.Error() != `stale_after 0s: must be greater than 0` {
		t.Errorf("err = %v", err)
	}
}

func TestCarry(t *testing.T) {
	r := &fake{value: 5}
	old := newCollector(t, file(10*time.Second, "app", "gone"), map[string]*fake{"app": r, "gone": {value: 1}})
	t0 := time.Unix(1_700_000_000, 0)
	old.Collect(context.Background(), t0)

	r2 := &fake{err: errors.New("new reader must not be used")}
	nf := file(10*time.Second, "app")
	c := newCollector(t, nf, map[string]*fake{"app": r2})
	c.Carry(old)
	r.set(0, errors.New("connection refused"))
	res := c.Collect(context.Background(), t0.Add(2*time.Second))
	if m := res.Metrics[0]; m.Value != 5 || m.Missing != "" || m.Err != "connection refused" {
		t.Errorf("carried: %+v", m)
	}
	if r2.reads != 0 {
		t.Errorf("new reader read %d times; want the old one carried", r2.reads)
	}

	// A changed source is not carried.
	changed := file(10*time.Second, "app")
	changed.Sources[0].Config.(*rules.ScrapeConfig).URL = "http://elsewhere"
	r3 := &fake{err: errors.New("down")}
	c2 := newCollector(t, changed, map[string]*fake{"app": r3})
	c2.Carry(c)
	if m := c2.Collect(context.Background(), t0.Add(3*time.Second)).Metrics[0]; m.Missing != "down" {
		t.Errorf("changed source: %+v", m)
	}
}

func TestTimeoutText(t *testing.T) {
	f := file(0, "app")
	f.Sources[0].Timeout = time.Second
	c := newCollector(t, f, map[string]*fake{"app": {delay: time.Minute}})
	res := c.Collect(context.Background(), time.Now())
	if m := res.Metrics[0]; m.Missing != "timeout after 1s" {
		t.Errorf("%+v", m)
	}
}

// closingStubborn is a stubborn reader that records its Close.
type closingStubborn struct {
	stubborn
	closed chan struct{}
}

func (c *closingStubborn) Close() error {
	close(c.closed)
	return nil
}

// TestCloseDoesNotWaitForAStuckRead: Close used to
// wait for reads in flight, and the evaluation loop calls it at every
// reload, so one stuck source stopped every evaluation. Close now returns
// at once, and the stuck reader is closed when its Read returns.
func TestCloseDoesNotWaitForAStuckRead(t *testing.T) {
	r := &closingStubborn{stubborn: stubborn{release: make(chan struct{})}, closed: make(chan struct{})}
	c, err := collect.New(file(0, "app"), func(*rules.Source) (sample.Reader, error) { return r, nil })
	if err != nil {
		t.Fatal(err)
	}
	c.Collect(context.Background(), time.Now()) // times out; the Read goes on

	closed := make(chan struct{})
	go func() {
		_ = c.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		close(r.release)
		t.Fatal("Close waited for a stuck Read")
	}
	select {
	case <-r.closed:
		t.Fatal("reader closed while its Read was still running")
	default:
	}
	close(r.release)
	select {
	case <-r.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("reader not closed once its Read returned")
	}
}

// TestCarriedReaderKeepsItsReadInFlight: a reader carried to a new
// collector, with a Read stuck in flight, belongs to the new collector:
// closing the old one neither closes it nor waits, and the new one sees
// the read as still running.
func TestCarriedReaderKeepsItsReadInFlight(t *testing.T) {
	r := &closingStubborn{stubborn: stubborn{release: make(chan struct{})}, closed: make(chan struct{})}
	old, err := collect.New(file(0, "app"), func(*rules.Source) (sample.Reader, error) { return r, nil })
	if err != nil {
		t.Fatal(err)
	}
	old.Collect(context.Background(), time.Now())
	c, err := collect.New(file(0, "app"), func(*rules.Source) (sample.Reader, error) { return &fake{}, nil })
	if err != nil {
		t.Fatal(err)
	}
	c.Carry(old)
	_ = old.Close()
	if res := c.Collect(context.Background(), time.Now()); res.Sources[0].Err != "previous read still running" {
		t.Errorf("new collector: %+v", res.Sources[0])
	}
	close(r.release)
	_ = c.Close()
	select {
	case <-r.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("carried reader not closed by the collector that owns it")
	}
}

// TestMetricValueJSON: an infinite value does not fail the document
// (it is null); a finite one is a number.
func TestMetricValueJSON(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{math.Inf(1), `{"name":"m","source":"app","age":0,"value":null,"non_finite":"+Inf"}`},
		{2.5, `{"name":"m","source":"app","age":0,"value":2.5}`},
	} {
		b, err := json.Marshal(collect.MetricValue{Name: "m", Source: "app", Value: tc.v})
		if err != nil || string(b) != tc.want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tc.v, b, err, tc.want)
		}
	}
}

// TestSampleTimestamps: a value whose source stamped it longer ago than
// stale_after is stale when read, not a fresh value; a younger one counts
// with its age; a newer read does not bring an older sample back.
func TestSampleTimestamps(t *testing.T) {
	r := &fake{value: 7, age: 40 * time.Second}
	c := newCollector(t, file(10*time.Second, "app"), map[string]*fake{"app": r})
	t0 := time.Unix(1_700_000_000, 0)
	ctx := context.Background()
	if m := c.Collect(ctx, t0).Metrics[0]; m.Missing != "stale: sample timestamp 40s old" || m.Value != 0 {
		t.Errorf("40s old: %+v", m)
	}
	r.mu.Lock()
	r.value, r.age = 8, 4*time.Second
	r.mu.Unlock()
	if m := c.Collect(ctx, t0.Add(time.Second)).Metrics[0]; m.Missing != "" || m.Value != 8 || m.Age != 4*time.Second {
		t.Errorf("4s old: %+v", m)
	}
	// The next read returns a sample stamped before the one held: the held
	// one stays, ageing, until it is stale.
	r.mu.Lock()
	r.value, r.age = 9, 9*time.Second
	r.mu.Unlock()
	if m := c.Collect(ctx, t0.Add(2*time.Second)).Metrics[0]; m.Missing != "" || m.Value != 8 || m.Age != 5*time.Second {
		t.Errorf("older sample: %+v", m)
	}
	r.mu.Lock()
	r.age = 15 * time.Second
	r.mu.Unlock()
	if m := c.Collect(ctx, t0.Add(8*time.Second)).Metrics[0]; m.Missing != "stale: last good value 11s ago (stale: sample timestamp 15s old)" {
		t.Errorf("held past stale_after: %+v", m)
	}
}

// TestCarryWhileReadRuns: a read that outlived its cycle still runs when
// the next rule file's collector carries its reader over. The read must
// not look at the source state that Carry rewrites (under -race the old
// code reported the race; without it, it could call Read on nil).
func TestCarryWhileReadRuns(t *testing.T) {
	st := &stubborn{release: make(chan struct{})}
	old, err := collect.New(file(0, "app"), func(*rules.Source) (sample.Reader, error) { return st, nil })
	if err != nil {
		t.Fatal(err)
	}
	if m := old.Collect(context.Background(), time.Now()).Metrics[0]; m.Missing != "timeout after 200ms" {
		t.Fatalf("%+v", m)
	}
	c := newCollector(t, file(0, "app"), map[string]*fake{"app": {value: 1}})
	c.Carry(old)
	close(st.release)
	_ = old.Close()
	// The carried reader is free again once the stuck read returned.
	deadline := time.Now().Add(5 * time.Second)
	for {
		res := c.Collect(context.Background(), time.Now())
		if m := res.Metrics[0]; m.Missing == "" && m.Value == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("carried reader never read: %+v", res.Sources[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// late returns its reading a little after its context's deadline, as a
// probe that timed out does on a loaded machine.
type late struct{ after time.Duration }

func (l late) Read(ctx context.Context, ms []*rules.Metric) ([]sample.Reading, error) {
	<-ctx.Done()
	time.Sleep(l.after)
	return []sample.Reading{{Value: 0}}, nil
}

// lateOutcome is late, declaring that its read has an outcome at the deadline.
type lateOutcome struct{ late }

func (lateOutcome) ResultGrace() time.Duration { return time.Second }

// TestOutcomeReaderWaitedFor: the readings of a reader whose read has an
// outcome at its deadline (a probe's success 0) are kept when they come
// a little after it; another reader's are dropped, the read a timeout.
func TestOutcomeReaderWaitedFor(t *testing.T) {
	for _, tc := range []struct {
		name    string
		r       sample.Reader
		missing string
	}{
		{"outcome", lateOutcome{late{50 * time.Millisecond}}, ""},
		{"plain", late{50 * time.Millisecond}, "timeout after 200ms"},
	} {
		c, err := collect.New(file(0, "app"), func(*rules.Source) (sample.Reader, error) { return tc.r, nil })
		if err != nil {
			t.Fatal(err)
		}
		res := c.Collect(context.Background(), time.Now())
		if m := res.Metrics[0]; m.Missing != tc.missing {
			t.Errorf("%s: %+v, want missing %q", tc.name, m, tc.missing)
		}
		_ = c.Close()
	}
}
