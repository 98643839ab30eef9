package app

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/clock"
)

// chanPublisher hands each evaluation the loop publishes to the test.
type chanPublisher chan *evaluator.Result

func (c chanPublisher) Publish(res *evaluator.Result) { c <- res }

// fakeAgent is a serving agent whose loop runs on a fake clock: the test
// moves time on and gets each evaluation as it is published.
type fakeAgent struct {
	*runningAgent
	t   *testing.T
	clk *clock.Fake
	pub chanPublisher
}

// t0 is the fake clock's start: any fixed time does.
var fakeT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// startFakeAgent starts an agent on a fake clock and returns it with the
// start-up evaluation read.
func startFakeAgent(t *testing.T, o Options) (*fakeAgent, *evaluator.Result) {
	t.Helper()
	fa := &fakeAgent{t: t, clk: clock.NewFake(fakeT0), pub: make(chanPublisher, 64)}
	o.Clock = fa.clk
	o.Publishers = append(o.Publishers, fa.pub)
	fa.runningAgent = startAgent(t, o)
	first := fa.next()
	fa.clk.WaitTicker() // the loop is running
	return fa, first
}

// next returns the next evaluation published.
func (fa *fakeAgent) next() *evaluator.Result {
	fa.t.Helper()
	select {
	case res := <-fa.pub:
		return res
	case <-time.After(10 * time.Second):
		fa.t.Fatal("no evaluation published in 10s")
		return nil
	}
}

// step moves the clock on by d (one interval, so one tick) and returns the
// evaluation it caused.
func (fa *fakeAgent) step(d time.Duration) *evaluator.Result {
	fa.t.Helper()
	fa.clk.Advance(d)
	res := fa.next()
	if !res.Time.Equal(fa.clk.Now()) {
		fa.t.Fatalf("evaluation at %v, want the fake clock's %v", res.Time, fa.clk.Now())
	}
	return res
}

// replyOn polls the agent port as HAProxy does and returns the line.
func (fa *fakeAgent) replyOn() string {
	fa.t.Helper()
	line, err := poll(fa.poll, "", 2*time.Second)
	if err != nil {
		fa.t.Fatal(err)
	}
	return line
}

// TestForRestoreAndRampOnAFakeClock follows one drain through `for:`, the
// ramp back and the restore window to a quiet "up", minutes of the agent's
// time in as many steps as it has evaluations, with no sleep: every
// evaluation's reply as published and as a poll gets it.
func TestForRestoreAndRampOnAFakeClock(t *testing.T) {
	t.Parallel()
	exp := newExporter(t)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomic(t, path, fmt.Sprintf(`interval: 5s
sources:
  app: {scrape: %s, timeout: 1s}
metrics:
  queue_depth: app:queue_depth
rules:
  - name: deep
    when: queue_depth > 500
    then: drain
    for: 30s
reply:
  restore_for: 1m
  ramp: 1m
  min_weight: 10%%
`, exp.srv.URL))
	fa, first := startFakeAgent(t, Options{RulesPath: path})
	if got := first.Services[0].Reply; got != "up ready 100%\n" || !first.Time.Equal(fakeT0) {
		t.Fatalf("start: %q at %v, want the start-up restore at the fake start", got, first.Time)
	}

	exp.set("queue_depth", 600)
	want := func(step int, res *evaluator.Result, reply string, phase evaluator.Phase) {
		t.Helper()
		d := res.Services[0]
		if d.Reply != reply || d.Phase != phase {
			t.Fatalf("step %d (+%v): %q %s, want %q %s", step, res.Time.Sub(fakeT0), d.Reply, d.Phase, reply, phase)
		}
		if got := fa.replyOn(); got+"\n" != reply {
			t.Fatalf("step %d: a poll got %q, want %q", step, got, reply)
		}
	}
	// Pending from +5s: the drain applies once 30s have passed, at +35s,
	// and the start-up restore (1m) is still carried until then.
	for i := 1; i <= 6; i++ {
		want(i, fa.step(5*time.Second), "up ready 100%\n", evaluator.Restoring)
	}
	want(7, fa.step(5*time.Second), "up drain 100% #deep\n", evaluator.Acting)

	// The queue drains: the weight climbs from 10% over a minute, 5s a step.
	exp.set("queue_depth", 0)
	for i := 0; i < 12; i++ {
		w := 10 + 90*i*5/60
		want(8+i, fa.step(5*time.Second), fmt.Sprintf("up ready %d%%\n", w), evaluator.Acting)
	}
	// Ramp done: ready at 100% is restored for restore_for, then quiet.
	for i := 0; i < 12; i++ {
		want(20+i, fa.step(5*time.Second), "up ready 100%\n", evaluator.Restoring)
	}
	want(32, fa.step(5*time.Second), "up\n", evaluator.Quiet)
}
